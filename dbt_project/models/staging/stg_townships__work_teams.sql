with

source as (
    select * from {{ source('raw', 'work_teams') }}
),

final as (
    select
        {{ clean_code('team_code') }} as team_code,
        township as township_name,
        township_code,
        village as village_name,
        {{ clean_code('cadre_code') }} as cadre_code,
        {{ scrub_pii('cadre_name') }} as cadre_name,
        {{ scrub_pii('unit') }} as unit,
        team_role,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        {{ lineage_columns() }}
    from source
)

select * from final
