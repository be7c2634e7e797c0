with

source as (
    select * from {{ source('raw', 'projects') }}
),

final as (
    select
        {{ clean_code('project_code') }} as project_code,
        {{ scrub_pii('project_name') }} as project_name,
        project_type,
        cast(is_capacity_building as boolean) as is_capacity_building,
        implementer,
        township as township_name,
        township_code,
        village as village_name,
        {{ scrub_pii('partner') }} as partner,
        cast(started_on as date) as started_on,
        cast(planned_yuan as decimal(18, 2)) as planned_yuan,
        status,
        cast(households_reached as integer) as households_reached,
        {{ lineage_columns() }}
    from source
)

select * from final
