-- One row per enterprise-village link (enterprise, village).
with

links as (
    select * from {{ ref('int_enterprise_links_deduped') }}
),

enterprises as (
    select * from {{ ref('dim_enterprises') }}
),

projects as (
    select * from {{ ref('fct_projects') }}
),

villages as (
    select * from {{ ref('dim_villages') }}
),

townships as (
    select * from {{ ref('dim_townships') }}
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('enterprise_links'), 'links')) }} as enterprise_link_id,
        enterprises.enterprise_id,
        coalesce(villages.village_id, {{ unknown_key() }}) as village_id,
        coalesce(townships.township_id, {{ unknown_key() }}) as township_id,
        links.enterprise_name,
        links.village_name,
        links.township_code,
        links.township_name,
        links.linked_on,
        links.link_mode,
        links.project_code,
        projects.project_id,
        villages.village_id is null as is_village_unknown,
        links.provider,
        links.source_file,
        links.sheet_name,
        links.row_number
    from links
    left join enterprises
        on links.enterprise_name = enterprises.enterprise_name
    left join projects
        on links.project_code = projects.project_code
    left join villages
        on links.township_code = villages.township_code
        and links.village_name = villages.village_name
        and villages.village_id <> {{ unknown_key() }}
    left join townships
        on links.township_code = townships.township_code
        and townships.township_id <> {{ unknown_key() }}
)

select * from final
