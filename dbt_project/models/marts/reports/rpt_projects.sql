-- Projects as people are shown them: one row per quarter started, township, village, project
-- type, status and provider, with the number of projects, how many build capacity (造血型), are
-- cooperatives (专业合作社) or are built or operating (完工, 运营), the planned yuan and the
-- households reached. Only projects started by the as-of date count; the status is the one the
-- latest file reports. Projects that name no township are county-level (县级（未落到乡镇）).
-- Every count and sum adds up over rows.
with projects as (
    select * from {{ ref('fct_projects') }}
    where started_on <= {{ as_of_date() }}
),

final as (
    select
        year(started_on) || 'Q' || quarter(started_on) as quarter,
        coalesce(township_code, '999') as township_code,
        coalesce(township_name, '{{ county_level_label() }}') as township_name,
        coalesce(village_name, '（未填村）') as village_name,
        project_type,
        status,
        provider,
        count(*) as projects,
        count(*) filter (where is_capacity_building) as capacity_building_projects,
        count(*) filter (where project_type = '专业合作社') as cooperatives,
        count(*) filter (where status in ('运营', '完工')) as built_or_operating,
        sum(planned_yuan) as planned_yuan,
        sum(households_reached) as households_reached
    from projects
    group by all
)

select * from final
