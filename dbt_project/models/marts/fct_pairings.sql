-- One row per pairing (cadre_code, household_code, pair_start).
with

pairings as (
    select * from {{ ref('int_pairings_deduped') }}
),

cadres as (
    select * from {{ ref('dim_cadres') }}
),

households as (
    select * from {{ ref('dim_households') }}
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('pairings'), 'pairings')) }} as pairing_id,
        pairings.cadre_code,
        pairings.household_code,
        pairings.pair_start,
        pairings.pair_end,
        coalesce(cadres.cadre_id, {{ unknown_key() }}) as cadre_id,
        coalesce(households.household_id, {{ unknown_key() }}) as household_id,
        pairings.cadre_name,
        pairings.head_name,
        pairings.pair_start <= {{ as_of_date() }}
            and (pairings.pair_end is null or {{ as_of_date() }} <= pairings.pair_end)
            as is_active_at_as_of,
        pairings.provider,
        pairings.source_file,
        pairings.sheet_name,
        pairings.row_number
    from pairings
    left join cadres
        on pairings.cadre_code = cadres.cadre_code
        and cadres.cadre_id <> {{ unknown_key() }}
    left join households
        on pairings.household_code = households.household_code
        and households.household_id <> {{ unknown_key() }}
)

select * from final
