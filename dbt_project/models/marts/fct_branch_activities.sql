-- One row per joint-branch activity (joint_branch, activity_date, activity_type).
with

activities as (
    select * from {{ ref('int_branch_activities_deduped') }}
),

branches as (
    select * from {{ ref('dim_joint_branches') }}
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('branch_activities'), 'activities')) }} as activity_id,
        branches.joint_branch_id,
        activities.joint_branch_name,
        activities.agency_branch,
        activities.rural_branch,
        activities.activity_date,
        {{ quarter_label('activities.activity_date') }} as quarter,
        activities.activity_type,
        activities.expected_count,
        activities.present_count,
        activities.study_hours,
        activities.spend_yuan,
        activities.agenda,
        activities.provider,
        activities.source_file,
        activities.sheet_name,
        activities.row_number
    from activities
    left join branches
        on activities.joint_branch_name = branches.joint_branch_name
)

select * from final
