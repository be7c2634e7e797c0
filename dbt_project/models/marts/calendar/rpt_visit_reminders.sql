{#- 本季度走访提醒: the pairings of the as-of date's quarter that will owe a visit when it ends
    (active 30 days or more of it) and have had none yet, while there is still time: one row per
    pairing, with the township of its household, the days left in the quarter and the last visit
    before. The calendar sends it from 15 days before a quarter ends (outreach/outputs/calendar.py);
    after the quarter ends, a pairing still unvisited is in dq_missing_quarterly_visits. -#}
with

pairing_quarters as (
    select * from {{ ref('int_pairing_quarters_expanded') }}
    where quarter = {{ quarter_label(as_of_date()) }}
        and active_days >= 30
),

visits as (
    select * from {{ ref('int_visits_deduped') }}
    where visit_date <= {{ as_of_date() }}
),

households as (
    select * from {{ ref('dim_households') }}
),

cadres as (
    select * from {{ ref('dim_cadres') }}
),

visit_stats as (
    select
        pairing_quarters.pairing_id,
        count(visits.visit_date) filter (
            where visits.visit_date >= pairing_quarters.quarter_start
        ) as visits_this_quarter,
        max(visits.visit_date) as last_visit_date
    from pairing_quarters
    left join visits
        on pairing_quarters.cadre_code = visits.cadre_code
        and pairing_quarters.household_code = visits.household_code
    group by pairing_quarters.pairing_id
),

final as (
    select
        {{ as_of_date() }} as as_of,
        pairing_quarters.quarter,
        pairing_quarters.quarter_end,
        cast(datediff('day', {{ as_of_date() }}, pairing_quarters.quarter_end) as integer)
            as days_left,
        pairing_quarters.pairing_id,
        coalesce(households.township_code, '999') as township_code,
        coalesce(households.township_name, '{{ unknown_township_label() }}') as township_name,
        households.village_name,
        pairing_quarters.cadre_code,
        cadres.cadre_name,
        cadres.unit,
        pairing_quarters.household_code,
        households.head_id_number_mask,
        pairing_quarters.pair_start,
        visit_stats.last_visit_date
    from pairing_quarters
    inner join visit_stats
        on pairing_quarters.pairing_id = visit_stats.pairing_id
    left join households
        on pairing_quarters.household_code = households.household_code
        and households.household_id <> {{ unknown_key() }}
    left join cadres
        on pairing_quarters.cadre_code = cadres.cadre_code
        and cadres.cadre_id <> {{ unknown_key() }}
    where visit_stats.visits_this_quarter = 0
)

select * from final
