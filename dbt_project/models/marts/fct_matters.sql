-- One row per matter (matter_code).
with

matters as (
    select * from {{ ref('int_matters_deduped') }}
),

townships as (
    select * from {{ ref('dim_townships') }}
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('matters'), 'matters')) }} as matter_id,
        matters.matter_code,
        matters.source,
        matters.category,
        matters.status,
        matters.raised_on,
        matters.decided_on,
        matters.closed_on,
        datediff('day', matters.raised_on, matters.closed_on) as days_to_close,
        coalesce(townships.township_id, {{ unknown_key() }}) as township_id,
        matters.township_code,
        matters.township_name,
        matters.place_or_partner,
        matters.description,
        matters.owner_unit,
        matters.provider,
        matters.source_file,
        matters.sheet_name,
        matters.row_number
    from matters
    left join townships
        on matters.township_code = townships.township_code
        and townships.township_id <> {{ unknown_key() }}
)

select * from final
