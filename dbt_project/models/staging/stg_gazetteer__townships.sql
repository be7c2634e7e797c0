with

source as (
    select * from {{ source('raw', 'townships') }}
),

final as (
    select
        cast(township_code as varchar) as township_code,
        township_name,
        cast(county_code as varchar) as county_code,
        county_name
    from source
)

select * from final
