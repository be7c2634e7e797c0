with

source as (
    select * from {{ source('raw', 'enterprise_links') }}
),

final as (
    select
        enterprise as enterprise_name,
        credit_code,
        enterprise_branch,
        village as village_name,
        township as township_name,
        township_code,
        cast(linked_on as date) as linked_on,
        link_mode,
        {{ clean_code('project_code') }} as project_code,
        {{ lineage_columns() }}
    from source
)

select * from final
