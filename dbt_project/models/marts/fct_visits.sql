-- One row per visit. Where the visit took place: the township and village written on the visit
-- row, else the household's. A code or village no roster knows joins the '-1' member.
with

visits as (
    select * from {{ ref('int_visits_deduped') }}
),

pairings as (
    select * from {{ ref('int_pairings_deduped') }}
),

cadres as (
    select * from {{ ref('dim_cadres') }}
),

households as (
    select * from {{ ref('dim_households') }}
),

villages as (
    select * from {{ ref('dim_villages') }}
),

townships as (
    select * from {{ ref('dim_townships') }}
),

with_household as (
    select
        visits.*,
        households.household_id,
        coalesce(visits.township_code, households.township_code) as place_township_code,
        case
            when visits.village_name is not null then visits.village_name
            else households.village_name
        end as place_village_name
    from visits
    left join households
        on visits.household_code = households.household_code
        and households.household_id <> {{ unknown_key() }}
),

paired as (
    select
        with_household.*,
        exists (
            select 1
            from pairings
            where pairings.cadre_code = with_household.cadre_code
                and pairings.household_code = with_household.household_code
                and pairings.pair_start <= with_household.visit_date
                and (pairings.pair_end is null or with_household.visit_date <= pairings.pair_end)
        ) as is_paired
    from with_household
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('visits'), 'paired')) }} as visit_id,
        paired.visit_date,
        {{ quarter_label('paired.visit_date') }} as quarter,
        paired.cadre_code,
        paired.household_code,
        coalesce(cadres.cadre_id, {{ unknown_key() }}) as cadre_id,
        coalesce(paired.household_id, {{ unknown_key() }}) as household_id,
        coalesce(villages.village_id, {{ unknown_key() }}) as village_id,
        coalesce(townships.township_id, {{ unknown_key() }}) as township_id,
        paired.visit_mode,
        paired.notes,
        paired.requests,
        paired.cadre_name,
        paired.head_name,
        paired.township_code,
        paired.township_name,
        paired.village_name,
        paired.is_paired,
        paired.village_name is not null and villages.village_id is null as is_village_unknown,
        paired.provider,
        paired.source_file,
        paired.sheet_name,
        paired.row_number
    from paired
    left join cadres
        on paired.cadre_code = cadres.cadre_code
        and cadres.cadre_id <> {{ unknown_key() }}
    left join villages
        on paired.place_township_code = villages.township_code
        and paired.place_village_name = villages.village_name
        and villages.village_id <> {{ unknown_key() }}
    left join townships
        on paired.place_township_code = townships.township_code
        and townships.township_id <> {{ unknown_key() }}
)

select * from final
