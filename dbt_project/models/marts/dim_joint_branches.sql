with

activities as (
    select * from {{ ref('int_branch_activities_deduped') }}
),

final as (
    select
        {{ surrogate_key(['joint_branch_name']) }} as joint_branch_id,
        joint_branch_name,
        first(agency_branch order by activity_date desc, agency_branch)
            filter (where agency_branch is not null) as agency_branch,
        first(rural_branch order by activity_date desc, rural_branch)
            filter (where rural_branch is not null) as rural_branch,
        min(activity_date) as first_activity_date,
        max(activity_date) as last_activity_date,
        count(*) as activity_count
    from activities
    group by joint_branch_name
)

select * from final
