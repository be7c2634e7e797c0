-- One row per project (project_code).
with

projects as (
    select * from {{ ref('int_projects_deduped') }}
),

villages as (
    select * from {{ ref('dim_villages') }}
),

townships as (
    select * from {{ ref('dim_townships') }}
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('projects'), 'projects')) }} as project_id,
        projects.project_code,
        projects.project_name,
        projects.project_type,
        coalesce(projects.is_capacity_building, false) as is_capacity_building,
        projects.implementer,
        coalesce(townships.township_id, {{ unknown_key() }}) as township_id,
        coalesce(villages.village_id, {{ unknown_key() }}) as village_id,
        projects.township_code,
        projects.township_name,
        projects.village_name,
        projects.partner,
        projects.started_on,
        projects.planned_yuan,
        projects.status,
        projects.households_reached,
        projects.village_name is not null and villages.village_id is null as is_village_unknown,
        projects.provider,
        projects.source_file,
        projects.sheet_name,
        projects.row_number
    from projects
    left join townships
        on projects.township_code = townships.township_code
        and townships.township_id <> {{ unknown_key() }}
    left join villages
        on projects.township_code = villages.township_code
        and projects.village_name = villages.village_name
        and villages.village_id <> {{ unknown_key() }}
)

select * from final
