-- One row per pairing and quarter owed a visit and not met (docs/RULES.md, quarterly visit).
with

pairing_quarters as (
    select * from {{ ref('fct_pairing_quarters') }}
),

cadres as (
    select * from {{ ref('dim_cadres') }}
),

households as (
    select * from {{ ref('dim_households') }}
),

villages as (
    select * from {{ ref('dim_villages') }}
),

townships as (
    select * from {{ ref('dim_townships') }}
),

missed as (
    select * from pairing_quarters
    where not is_met
),

final as (
    select
        missed.pairing_quarter_id,
        missed.pairing_id,
        missed.cadre_id,
        missed.cadre_code,
        cadres.cadre_name,
        cadres.unit,
        townships.township_name,
        villages.village_name,
        missed.household_id,
        missed.household_code,
        households.head_name,
        households.head_id_number_mask,
        missed.quarter,
        missed.quarter_start,
        missed.quarter_end,
        missed.pair_start,
        missed.pair_end,
        missed.active_days,
        missed.last_visit_date
    from missed
    left join cadres
        on missed.cadre_id = cadres.cadre_id
    left join households
        on missed.household_id = households.household_id
    left join villages
        on households.village_id = villages.village_id
    left join townships
        on households.township_id = townships.township_id
)

select * from final
