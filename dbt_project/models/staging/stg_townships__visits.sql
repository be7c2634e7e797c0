with

source as (
    select * from {{ source('raw', 'visits') }}
),

final as (
    select
        cast(visit_date as date) as visit_date,
        {{ clean_code('cadre_code') }} as cadre_code,
        {{ scrub_pii('cadre_name') }} as cadre_name,
        {{ clean_code('household_code') }} as household_code,
        {{ mask_name(scrub_pii('head_name')) }} as head_name,
        township as township_name,
        township_code,
        village as village_name,
        visit_mode,
        {{ scrub_pii('notes') }} as notes,
        {{ scrub_pii('requests') }} as requests,
        {{ lineage_columns() }}
    from source
)

select * from final
