-- One row per pairing and calendar quarter in which the pairing is active at least one day.
-- A pairing is active on day d when pair_start <= d and (pair_end is null or d <= pair_end);
-- active_days counts those days inside [quarter_start, quarter_end], both ends inclusive.
-- A visit is owed (is_owed) when active_days >= 30 and the quarter ended on or before as_of.
with

pairings as (
    select * from {{ ref('int_pairings_deduped') }}
),

quarters as (
    select * from {{ ref('int_quarters_generated') }}
),

overlapping as (
    select
        pairings.cadre_code,
        pairings.household_code,
        pairings.pair_start,
        pairings.pair_end,
        quarters.quarter,
        quarters.quarter_start,
        quarters.quarter_end,
        {{ overlap_days(
            'pairings.pair_start',
            'coalesce(pairings.pair_end, quarters.quarter_end)',
            'quarters.quarter_start',
            'quarters.quarter_end'
        ) }} as active_days
    from pairings
    inner join quarters
        on pairings.pair_start <= quarters.quarter_end
        and (pairings.pair_end is null or pairings.pair_end >= quarters.quarter_start)
),

final as (
    select
        {{ surrogate_key(natural_key('pairings') + ['quarter']) }} as pairing_quarter_id,
        {{ surrogate_key(natural_key('pairings')) }} as pairing_id,
        cadre_code,
        household_code,
        pair_start,
        pair_end,
        quarter,
        quarter_start,
        quarter_end,
        active_days,
        active_days >= 30 and quarter_end <= {{ as_of_date() }} as is_owed
    from overlapping
    where active_days > 0
)

select * from final
