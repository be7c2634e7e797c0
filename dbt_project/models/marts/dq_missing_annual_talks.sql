-- One row per roster cadre (rank 正科/副科/一般干部) and calendar year with no talk. Years run
-- from the first year in the talks data through the last year ended on or before the as-of date.
with

cadres as (
    select * from {{ ref('dim_cadres') }}
),

talks as (
    select * from {{ ref('fct_talks') }}
    where talk_date <= {{ as_of_date() }}
),

talked_cadres as (
    select * from cadres
    where on_county_roster
        and rank in ('正科', '副科', '一般干部')
),

year_bounds as (
    select
        cast(min(year(talk_date)) as integer) as first_year,
        cast(year({{ as_of_date() }} + interval 1 day) as integer) - 1 as last_year
    from talks
),

years as (
    select cast(unnest(generate_series(first_year, last_year)) as integer) as year
    from year_bounds
    where first_year <= last_year
),

cadre_years as (
    select
        talked_cadres.cadre_id,
        talked_cadres.cadre_code,
        talked_cadres.cadre_name,
        talked_cadres.unit,
        talked_cadres.rank,
        years.year,
        make_date(years.year, 12, 31) as year_end
    from talked_cadres
    cross join years
),

talk_stats as (
    select
        cadre_years.cadre_code,
        cadre_years.year,
        count(talks.talk_date) filter (where year(talks.talk_date) = cadre_years.year) as talk_count,
        max(talks.talk_date) as last_talk_date
    from cadre_years
    left join talks
        on cadre_years.cadre_code = talks.cadre_code
        and talks.talk_date <= cadre_years.year_end
    group by cadre_years.cadre_code, cadre_years.year
),

final as (
    select
        cadre_years.cadre_id,
        cadre_years.cadre_code,
        cadre_years.cadre_name,
        cadre_years.unit,
        cadre_years.rank,
        cadre_years.year,
        talk_stats.last_talk_date
    from cadre_years
    inner join talk_stats
        on cadre_years.cadre_code = talk_stats.cadre_code
        and cadre_years.year = talk_stats.year
    where talk_stats.talk_count = 0
)

select * from final
