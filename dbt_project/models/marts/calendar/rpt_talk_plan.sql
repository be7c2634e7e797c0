{#- 本周拉家常安排: the talks still owed this year, as of the as-of date. One row per roster cadre
    (rank 正科/副科/一般干部) not yet talked with in the as-of date's year, with the leader who
    must hold the talk (dbt_project/macros/calendar.sql), the last talk before (any year; none:
    never), the cadre's place in that leader's queue (oldest last talk first, never talked
    first), and that leader's arithmetic for the rest of the year: Tuesdays left (拉家常活动日,
    after the as-of date) against talks left, and so how many talks each Tuesday must hold at least. -#}
with

cadres as (
    select * from {{ ref('dim_cadres') }}
    where on_county_roster
        and rank in ('正科', '副科', '一般干部')
),

talks as (
    select * from {{ ref('fct_talks') }}
    where talk_date <= {{ as_of_date() }}
),

last_talks as (
    select
        cadre_code,
        max(talk_date) as last_talk_date,
        bool_or(year(talk_date) = year({{ as_of_date() }})) as talked_this_year
    from talks
    group by cadre_code
),

owed as (
    select
        cadres.cadre_id,
        cadres.cadre_code,
        cadres.cadre_name,
        cadres.unit,
        cadres.rank,
        {{ required_interviewer_role('cadres.rank') }} as interviewer_role,
        last_talks.last_talk_date
    from cadres
    left join last_talks
        on cadres.cadre_code = last_talks.cadre_code
    where not coalesce(last_talks.talked_this_year, false)
),

tuesdays as (
    -- the Tuesdays after the as-of date, to the end of its year (DuckDB: Sunday = 0)
    select count(*) as tuesdays_left
    from (
        select cast(unnest(generate_series(
            {{ as_of_date() }} + interval 1 day,
            make_date(year({{ as_of_date() }}), 12, 31),
            interval 1 day
        )) as date) as day
    ) as days
    where dayofweek(day) = 2
),

final as (
    select
        {{ as_of_date() }} as as_of,
        cast(year({{ as_of_date() }}) as integer) as year,
        owed.interviewer_role,
        cast(row_number() over (
            partition by owed.interviewer_role
            order by owed.last_talk_date asc nulls first, owed.cadre_code
        ) as integer) as queue_position,
        owed.cadre_id,
        owed.cadre_code,
        owed.cadre_name,
        owed.unit,
        owed.rank,
        owed.last_talk_date,
        cast(count(*) over (partition by owed.interviewer_role) as integer) as talks_left,
        cast(tuesdays.tuesdays_left as integer) as tuesdays_left
    from owed
    cross join tuesdays
),

with_pace as (
    select
        *,
        cast(ceil(talks_left / nullif(tuesdays_left, 0)) as integer) as talks_per_tuesday
    from final
)

select * from with_pace
