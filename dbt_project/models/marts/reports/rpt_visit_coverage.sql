-- One row per township and quarter owed visits: pairing-quarters owed, met, missed and the rate
-- met ÷ owed (docs/RULES.md, quarterly visit). The township is the household's (a household no
-- roster knows is 未知乡镇). The dashboard's heat map, the quarterly report's coverage sheet
-- and BI tools read these counts; they sum owed and met over townships or quarters and divide.
with pairing_quarters as (
    select
        pq.quarter,
        pq.is_met,
        pq.household_id,
        pq.cadre_id,
        coalesce(h.township_name, '{{ unknown_township_label() }}') as township_name,
        coalesce(h.township_code, '999') as township_code
    from {{ ref('fct_pairing_quarters') }} as pq
    left join {{ ref('dim_households') }} as h using (household_id)
),

final as (
    select
        township_code,
        township_name,
        quarter,
        count(distinct household_id) as households_paired,
        count(distinct cadre_id) as cadres_paired,
        count(*) as pairing_quarters_owed,
        count(*) filter (where is_met) as pairing_quarters_met,
        count(*) filter (where not is_met) as pairing_quarters_missed,
        cast(count(*) filter (where is_met) / count(*) as double) as visit_rate
    from pairing_quarters
    group by township_code, township_name, quarter
)

select * from final
