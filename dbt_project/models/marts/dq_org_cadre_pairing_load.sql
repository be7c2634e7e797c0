-- One row per organisation-department cadre (is_org_dept) whose number of pairings active at
-- the as-of date is not 5 (docs/RULES.md, five households).
with

cadres as (
    select * from {{ ref('dim_cadres') }}
),

pairings as (
    select * from {{ ref('fct_pairings') }}
),

org_cadres as (
    select * from cadres
    where is_org_dept
),

active_pairings as (
    select cadre_code, count(*) as active_pairings
    from pairings
    where is_active_at_as_of
    group by cadre_code
),

final as (
    select
        org_cadres.cadre_id,
        org_cadres.cadre_code,
        org_cadres.cadre_name,
        org_cadres.unit,
        cast(coalesce(active_pairings.active_pairings, 0) as integer) as active_pairings
    from org_cadres
    left join active_pairings
        on org_cadres.cadre_code = active_pairings.cadre_code
    where coalesce(active_pairings.active_pairings, 0) <> 5
)

select * from final
