-- Talks by year and the role of the leader who held them (组织部长, 副部长, 干部科长 …), dated by
-- the as-of date, as rpt_talk_coverage counts talks: its talks of a year are this mart's sum.
select
    talk_year as year,
    interviewer_role,
    count(*) as talks
from {{ ref('fct_talks') }}
where talk_date <= {{ as_of_date() }}
group by all
