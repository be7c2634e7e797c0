with

villages as (
    select * from {{ ref('int_villages_learned') }}
),

townships as (
    select * from {{ ref('dim_townships') }}
),

known as (
    select
        {{ surrogate_key(['villages.township_code', 'villages.village_name']) }} as village_id,
        coalesce(townships.township_id, {{ unknown_key() }}) as township_id,
        villages.village_name,
        villages.township_code,
        townships.township_name,
        villages.is_in_households,
        villages.is_in_work_teams
    from villages
    left join townships
        on villages.township_code = townships.township_code
),

unknown as (
    select
        {{ unknown_key() }} as village_id,
        {{ unknown_key() }} as township_id,
        '未知' as village_name,
        '-1' as township_code,
        '未知' as township_name,
        false as is_in_households,
        false as is_in_work_teams
),

final as (
    select * from known
    union all
    select * from unknown
)

select * from final
