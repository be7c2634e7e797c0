-- One row per joint branch and quarter with no activity attended by anyone (实到人数 > 0), from
-- the quarter of the branch's first reported activity of any kind through the last quarter
-- ended on or before the as-of date.
with

branches as (
    select * from {{ ref('dim_joint_branches') }}
),

activities as (
    select * from {{ ref('fct_branch_activities') }}
    where activity_date <= {{ as_of_date() }}
),

quarters as (
    select * from {{ ref('dim_quarters') }}
    where is_complete
),

first_activities as (
    select joint_branch_id, min(activity_date) as first_activity_date
    from activities
    group by joint_branch_id
),

branch_quarters as (
    select
        first_activities.joint_branch_id,
        quarters.quarter,
        quarters.quarter_start,
        quarters.quarter_end
    from first_activities
    inner join quarters
        on quarters.quarter_end >= first_activities.first_activity_date
),

activity_stats as (
    select
        branch_quarters.joint_branch_id,
        branch_quarters.quarter,
        count(activities.activity_date) filter (
            where activities.activity_date >= branch_quarters.quarter_start
                and activities.present_count > 0
        ) as held_count,
        max(activities.activity_date) as last_activity_date,
        max(activities.activity_date) filter (where activities.present_count > 0)
            as last_held_activity_date
    from branch_quarters
    left join activities
        on branch_quarters.joint_branch_id = activities.joint_branch_id
        and activities.activity_date <= branch_quarters.quarter_end
    group by branch_quarters.joint_branch_id, branch_quarters.quarter
),

final as (
    select
        branch_quarters.joint_branch_id,
        branches.joint_branch_name,
        branch_quarters.quarter,
        branch_quarters.quarter_start,
        branch_quarters.quarter_end,
        activity_stats.last_activity_date,
        activity_stats.last_held_activity_date
    from branch_quarters
    inner join activity_stats
        on branch_quarters.joint_branch_id = activity_stats.joint_branch_id
        and branch_quarters.quarter = activity_stats.quarter
    left join branches
        on branch_quarters.joint_branch_id = branches.joint_branch_id
    where activity_stats.held_count = 0
)

select * from final
