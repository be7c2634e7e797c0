-- One row per cadre_code: the county roster, plus work-team members the roster does not list
-- (their name and unit from their most recent team row).
with

roster as (
    select * from {{ ref('int_cadres_deduped') }}
),

work_teams as (
    select * from {{ ref('int_work_teams_deduped') }}
),

roster_cadres as (
    select
        cadre_code,
        cadre_name,
        sex,
        unit,
        rank,
        coalesce(is_org_dept, false) as is_org_dept,
        phone_token,
        phone_mask,
        true as on_county_roster,
        provider,
        source_file,
        sheet_name,
        row_number
    from roster
),

team_only_cadres as (
    select
        work_teams.cadre_code,
        work_teams.cadre_name,
        cast(null as varchar) as sex,
        work_teams.unit,
        cast(null as varchar) as rank,
        false as is_org_dept,
        cast(null as varchar) as phone_token,
        cast(null as varchar) as phone_mask,
        false as on_county_roster,
        work_teams.provider,
        work_teams.source_file,
        work_teams.sheet_name,
        work_teams.row_number
    from work_teams
    anti join roster
        on work_teams.cadre_code = roster.cadre_code
    qualify row_number() over (
        partition by work_teams.cadre_code
        order by work_teams.start_date desc, work_teams.team_code desc
    ) = 1
),

final as (
    select * from roster_cadres
    union all
    select * from team_only_cadres
)

select * from final
