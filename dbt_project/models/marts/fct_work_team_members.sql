-- One row per work-team member (team_code, cadre_code).
with

members as (
    select * from {{ ref('int_work_teams_deduped') }}
),

cadres as (
    select * from {{ ref('dim_cadres') }}
),

villages as (
    select * from {{ ref('dim_villages') }}
),

townships as (
    select * from {{ ref('dim_townships') }}
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('work_teams'), 'members')) }} as work_team_member_id,
        members.team_code,
        members.cadre_code,
        coalesce(cadres.cadre_id, {{ unknown_key() }}) as cadre_id,
        coalesce(villages.village_id, {{ unknown_key() }}) as village_id,
        coalesce(townships.township_id, {{ unknown_key() }}) as township_id,
        members.cadre_name,
        members.unit,
        members.team_role,
        members.start_date,
        members.end_date,
        members.township_code,
        members.township_name,
        members.village_name,
        members.provider,
        members.source_file,
        members.sheet_name,
        members.row_number
    from members
    left join cadres
        on members.cadre_code = cadres.cadre_code
        and cadres.cadre_id <> {{ unknown_key() }}
    left join villages
        on members.township_code = villages.township_code
        and members.village_name = villages.village_name
        and villages.village_id <> {{ unknown_key() }}
    left join townships
        on members.township_code = townships.township_code
        and townships.township_id <> {{ unknown_key() }}
)

select * from final
