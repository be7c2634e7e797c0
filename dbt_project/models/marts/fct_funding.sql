-- One row per funding row (funded_on, source_type, source_unit, amount_yuan, project_code,
-- village). A village written without its township is placed when its name is unique in the
-- county.
with

funding as (
    select * from {{ ref('int_funding_deduped') }}
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

known_villages as (
    select * from villages
    where village_id <> {{ unknown_key() }}
),

villages_unique_by_name as (
    select village_name, min(township_code) as township_code
    from known_villages
    group by village_name
    having count(*) = 1
),

placed as (
    select
        funding.*,
        coalesce(funding.township_code, villages_unique_by_name.township_code) as place_township_code
    from funding
    left join villages_unique_by_name
        on funding.township_code is null
        and funding.village_name = villages_unique_by_name.village_name
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('funding'), 'placed')) }} as funding_id,
        placed.funded_on,
        cast(placed.amount_yuan as decimal(18, 2)) as amount_yuan,
        placed.source_type,
        placed.source_unit,
        placed.project_code,
        placed.village_name,
        placed.purpose,
        placed.provider,
        coalesce(townships.township_id, {{ unknown_key() }}) as township_id,
        coalesce(known_villages.village_id, {{ unknown_key() }}) as village_id,
        projects.project_id,
        placed.township_code,
        placed.township_name,
        placed.village_name is not null and known_villages.village_id is null as is_village_unknown,
        placed.source_file,
        placed.sheet_name,
        placed.row_number
    from placed
    left join townships
        on placed.place_township_code = townships.township_code
        and townships.township_id <> {{ unknown_key() }}
    left join known_villages
        on placed.place_township_code = known_villages.township_code
        and placed.village_name = known_villages.village_name
    left join projects
        on placed.project_code = projects.project_code
)

select * from final
