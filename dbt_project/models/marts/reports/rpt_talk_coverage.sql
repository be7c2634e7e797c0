-- One row per year with talks: talks held, cadres talked with, opinions collected, and how many
-- of the roster's cadres who must be talked with every year (正科, 副科, 一般干部; docs/RULES.md,
-- annual talk) were, with those missed once the year has ended by the as-of date. Talks dated
-- after the as-of date (a backfill restates an earlier date) are left out, as in the headlines;
-- cadres are counted by their code, as cadres_talked is.
with talks as (
    select * from {{ ref('fct_talks') }}
    where talk_date <= {{ as_of_date() }}
),

roster as (
    select cadre_id
    from {{ ref('dim_cadres') }}
    where on_county_roster and rank in ('正科', '副科', '一般干部')
),

years as (
    select
        talk_year as year,
        count(*) as talks,
        count(distinct cadre_code) as cadres_talked,
        cast(coalesce(sum(opinion_count), 0) as bigint) as opinions_collected
    from talks
    group by talk_year
),

roster_talked as (
    select talks.talk_year as year, count(distinct talks.cadre_id) as cadres_due_talked
    from talks
    inner join roster using (cadre_id)
    group by talks.talk_year
),

missed as (
    select year, count(*) as cadres_missed
    from {{ ref('dq_missing_annual_talks') }}
    group by year
),

final as (
    select
        years.year,
        years.talks,
        years.cadres_talked,
        years.opinions_collected,
        (select count(*) from roster) as cadres_due,
        coalesce(roster_talked.cadres_due_talked, 0) as cadres_due_talked,
        case
            when make_date(years.year, 12, 31) <= {{ as_of_date() }}
                then coalesce(missed.cadres_missed, 0)
        end as cadres_missed,
        cast(coalesce(roster_talked.cadres_due_talked, 0) as double)
        / nullif((select count(*) from roster), 0) as talk_coverage,
        make_date(years.year, 12, 31) <= {{ as_of_date() }} as year_ended
    from years
    left join roster_talked using (year)
    left join missed using (year)
)

select * from final
