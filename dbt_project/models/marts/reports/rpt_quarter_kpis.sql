-- One row per quarter of the programme up to the as-of date's: what happened in it, each fact
-- counted by its own date (visit, funding, start, raised, closed, talk, activity date), and the
-- pairing-quarters owed and met. The quarterly report's "工作情况" table is two of these rows.
with quarters as (
    select quarter, quarter_start, quarter_end
    from {{ ref('dim_quarters') }}
),

visits as (
    select quarter, count(*) as visits, count(distinct household_code) as households_visited
    from {{ ref('fct_visits') }}
    group by quarter
),

owed as (
    select
        quarter,
        count(*) as pairing_quarters_owed,
        count(*) filter (where is_met) as pairing_quarters_met
    from {{ ref('fct_pairing_quarters') }}
    group by quarter
),

funding as (
    select q.quarter, sum(f.amount_yuan) as funding_yuan
    from quarters as q
    inner join {{ ref('fct_funding') }} as f on f.funded_on between q.quarter_start and q.quarter_end
    group by q.quarter
),

projects as (
    select q.quarter, count(*) as projects_started
    from quarters as q
    inner join {{ ref('fct_projects') }} as p on p.started_on between q.quarter_start and q.quarter_end
    group by q.quarter
),

raised as (
    select q.quarter, count(*) as matters_raised
    from quarters as q
    inner join {{ ref('fct_matters') }} as m on m.raised_on between q.quarter_start and q.quarter_end
    group by q.quarter
),

closed as (
    select q.quarter, count(*) as matters_closed
    from quarters as q
    inner join {{ ref('fct_matters') }} as m
        on m.status = '已办结' and m.closed_on between q.quarter_start and q.quarter_end
    group by q.quarter
),

talks as (
    select
        q.quarter,
        count(*) as talks,
        cast(coalesce(sum(t.opinion_count), 0) as bigint) as opinions_collected
    from quarters as q
    inner join {{ ref('fct_talks') }} as t on t.talk_date between q.quarter_start and q.quarter_end
    group by q.quarter
),

branch_life as (
    select q.quarter, count(*) as branch_activities_held
    from quarters as q
    inner join {{ ref('fct_branch_activities') }} as a
        on a.present_count > 0 and a.activity_date between q.quarter_start and q.quarter_end
    group by q.quarter
),

final as (
    select
        quarters.quarter,
        coalesce(visits.visits, 0) as visits,
        coalesce(visits.households_visited, 0) as households_visited,
        coalesce(owed.pairing_quarters_owed, 0) as pairing_quarters_owed,
        coalesce(owed.pairing_quarters_met, 0) as pairing_quarters_met,
        cast(owed.pairing_quarters_met as double)
        / nullif(owed.pairing_quarters_owed, 0) as visit_rate,
        cast(coalesce(funding.funding_yuan, 0) as decimal(18, 2)) as funding_yuan,
        coalesce(projects.projects_started, 0) as projects_started,
        coalesce(raised.matters_raised, 0) as matters_raised,
        coalesce(closed.matters_closed, 0) as matters_closed,
        coalesce(talks.talks, 0) as talks,
        coalesce(talks.opinions_collected, 0) as opinions_collected,
        coalesce(branch_life.branch_activities_held, 0) as branch_activities_held
    from quarters
    left join visits using (quarter)
    left join owed using (quarter)
    left join funding using (quarter)
    left join projects using (quarter)
    left join raised using (quarter)
    left join closed using (quarter)
    left join talks using (quarter)
    left join branch_life using (quarter)
)

select * from final
