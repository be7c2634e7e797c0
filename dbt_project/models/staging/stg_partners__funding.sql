with

source as (
    select * from {{ source('raw', 'funding') }}
),

final as (
    select
        cast(funded_on as date) as funded_on,
        source_type,
        {{ scrub_pii('source_unit') }} as source_unit,
        cast(amount_yuan as decimal(18, 2)) as amount_yuan,
        {{ scrub_pii('purpose') }} as purpose,
        {{ clean_code('project_code') }} as project_code,
        township as township_name,
        township_code,
        village as village_name,
        {{ lineage_columns() }}
    from source
)

select * from final
