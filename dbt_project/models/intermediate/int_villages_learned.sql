-- One row per village known under its township. Villages are learned from the households and
-- work_teams sheets (docs/CONTRACT.md, Places); a village named anywhere else must be one of these.
with

households as (
    select * from {{ ref('int_households_deduped') }}
),

work_teams as (
    select * from {{ ref('int_work_teams_deduped') }}
),

named_places as (
    select township_code, village_name, 'households' as learned_from from households
    union all
    select township_code, village_name, 'work_teams' as learned_from from work_teams
),

final as (
    select
        township_code,
        village_name,
        bool_or(learned_from = 'households') as is_in_households,
        bool_or(learned_from = 'work_teams') as is_in_work_teams
    from named_places
    where township_code is not null
        and village_name is not null
    group by township_code, village_name
)

select * from final
