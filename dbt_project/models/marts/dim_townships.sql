with

townships as (
    select * from {{ ref('stg_gazetteer__townships') }}
),

known as (
    select
        {{ surrogate_key(['township_code']) }} as township_id,
        township_code,
        township_name,
        county_code,
        county_name
    from townships
),

unknown as (
    select
        {{ unknown_key() }} as township_id,
        '-1' as township_code,
        '未知' as township_name,
        cast(null as varchar) as county_code,
        cast(null as varchar) as county_name
),

final as (
    select * from known
    union all
    select * from unknown
)

select * from final
