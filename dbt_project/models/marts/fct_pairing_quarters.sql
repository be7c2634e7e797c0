-- One row per pairing and quarter owed a visit: active >= 30 days of the quarter, and the
-- quarter ended on or before the as-of date (int_pairing_quarters_expanded.is_owed).
with

pairing_quarters as (
    select * from {{ ref('int_pairing_quarters_expanded') }}
),

pairings as (
    select * from {{ ref('fct_pairings') }}
),

visits as (
    select * from {{ ref('int_visits_deduped') }}
),

owed as (
    select * from pairing_quarters
    where is_owed
),

visit_stats as (
    select
        owed.pairing_quarter_id,
        count(visits.visit_date) filter (
            where visits.visit_date between owed.quarter_start and owed.quarter_end
        ) as visit_count,
        max(visits.visit_date) as last_visit_date
    from owed
    left join visits
        on owed.cadre_code = visits.cadre_code
        and owed.household_code = visits.household_code
        and visits.visit_date <= owed.quarter_end
    group by owed.pairing_quarter_id
),

final as (
    select
        owed.pairing_quarter_id,
        owed.pairing_id,
        pairings.cadre_id,
        pairings.household_id,
        owed.cadre_code,
        owed.household_code,
        owed.pair_start,
        owed.pair_end,
        owed.quarter,
        owed.quarter_start,
        owed.quarter_end,
        owed.active_days,
        cast(visit_stats.visit_count as integer) as visit_count,
        visit_stats.visit_count > 0 as is_met,
        visit_stats.last_visit_date
    from owed
    inner join pairings
        on owed.pairing_id = pairings.pairing_id
    inner join visit_stats
        on owed.pairing_quarter_id = visit_stats.pairing_quarter_id
)

select * from final
