-- One row per headline metric of docs/RULES.md, over everything dated on or before the as-of date
-- (a backfill restates an earlier date from the rows loaded now; later rows are left out).
-- Counts use natural codes (distinct household_code, ...), never surrogate ids, so an unknown
-- member ('-1') never folds several codes into one.
with

talks as (
    select * from {{ ref('fct_talks') }}
    where talk_date <= {{ as_of_date() }}
),

visits as (
    select * from {{ ref('fct_visits') }}
    where visit_date <= {{ as_of_date() }}
),

pairings as (
    select * from {{ ref('fct_pairings') }}
    where pair_start <= {{ as_of_date() }}
),

funding as (
    select * from {{ ref('fct_funding') }}
    where funded_on <= {{ as_of_date() }}
),

projects as (
    select * from {{ ref('fct_projects') }}
    where started_on <= {{ as_of_date() }}
),

matters as (
    select * from {{ ref('fct_matters') }}
    where raised_on <= {{ as_of_date() }}
),

work_team_members as (
    select * from {{ ref('fct_work_team_members') }}
    where start_date <= {{ as_of_date() }}
),

pairing_quarters as (
    select * from {{ ref('fct_pairing_quarters') }}
),

-- A matter's status in the sheet is its latest one: a matter closed after the as-of date was
-- still 待议/办理中 on that date, so it is done when 已办结 and closed on or before the as-of
-- date. 已办结 without 办结日期 (flagged matter_closed_without_date) counts from the day it was
-- raised: its closing day is unknown, not later.
done_matters as (
    select * from matters
    where status = '已办结'
        and (closed_on is null or closed_on <= {{ as_of_date() }})
),

metrics as (
    select 1 as metric_order, 'cadres_talked' as metric, count(distinct cadre_code) as value
    from talks
    union all
    select 2, 'opinions_collected', coalesce(sum(opinion_count), 0) from talks
    union all
    select 3, 'households_visited', count(distinct household_code) from visits
    union all
    select 4, 'households_paired', count(distinct household_code) from pairings
    union all
    select 5, 'funding_yuan', coalesce(sum(amount_yuan), 0) from funding
    union all
    select 6, 'cooperatives', count(distinct project_code) from projects
    where project_type = '专业合作社'
    union all
    select 7, 'practical_matters_done', count(distinct matter_code) from done_matters
    where category = '办实事'
    union all
    select 8, 'enterprise_problems_solved', count(distinct matter_code) from done_matters
    where category = '企业诉求'
    union all
    select 9, 'branch_problems_solved', count(distinct matter_code) from done_matters
    where category = '支部难题'
    union all
    select 10, 'capacity_projects', count(distinct project_code) from projects
    where is_capacity_building
    union all
    select 11, 'members_transformed', count(distinct matter_code) from done_matters
    where category = '党员转化'
    union all
    select 12, 'branches_upgraded', count(distinct matter_code) from done_matters
    where category = '支部升级'
    union all
    select 13, 'work_teams', count(distinct team_code) from work_team_members
    union all
    select 14, 'villages_stationed', count(distinct (township_code, village_name))
    from work_team_members
    union all
    select 15, 'cadres_stationed', count(distinct cadre_code) from work_team_members
    union all
    select
        16,
        'quarterly_visit_rate',
        case
            when count(*) = 0 then 0
            else round(count(*) filter (where is_met) / count(*), 4)
        end
    from pairing_quarters
),

final as (
    select
        metric,
        cast(value as decimal(18, 4)) as value,
        {{ as_of_date() }} as as_of,
        metric_order
    from metrics
)

select * from final
