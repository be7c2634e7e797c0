with

source as (
    select * from {{ source('raw', 'branch_activities') }}
),

final as (
    select
        joint_branch as joint_branch_name,
        agency_branch,
        rural_branch,
        cast(activity_date as date) as activity_date,
        activity_type,
        cast(expected_count as integer) as expected_count,
        cast(present_count as integer) as present_count,
        cast(study_hours as decimal(10, 2)) as study_hours,
        {{ scrub_pii('agenda') }} as agenda,
        cast(spend_yuan as decimal(18, 2)) as spend_yuan,
        {{ lineage_columns() }}
    from source
)

select * from final
