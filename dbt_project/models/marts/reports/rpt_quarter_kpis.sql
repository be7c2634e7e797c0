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

{#- (cte, fact, its date, a condition, the figures it gives) -#}
{%- set by_date = [
    ('funding', 'fct_funding', 'funded_on', 'true',
        'cast(sum(fact.amount_yuan) as decimal(18, 2)) as funding_yuan'),
    ('projects', 'fct_projects', 'started_on', 'true', 'count(*) as projects_started'),
    ('raised', 'fct_matters', 'raised_on', 'true', 'count(*) as matters_raised'),
    ('closed', 'fct_matters', 'closed_on', "fact.status = '已办结'", 'count(*) as matters_closed'),
    ('talks', 'fct_talks', 'talk_date', 'true',
        'count(*) as talks, cast(coalesce(sum(fact.opinion_count), 0) as bigint) as opinions_collected'),
    ('branch_life', 'fct_branch_activities', 'activity_date', 'fact.present_count > 0',
        'count(*) as branch_activities_held'),
] %}
{%- for cte, fact, date_column, condition, figures in by_date %}
{{ cte }} as (
    select quarters.quarter, {{ figures }}
    from quarters
    inner join {{ ref(fact) }} as fact
        on {{ condition }} and fact.{{ date_column }} between quarters.quarter_start and quarters.quarter_end
    group by quarters.quarter
),
{% endfor %}
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
