with

households as (
    select * from {{ ref('int_households_deduped') }}
),

villages as (
    select * from {{ ref('dim_villages') }}
),

townships as (
    select * from {{ ref('dim_townships') }}
),

known as (
    select
        {{ surrogate_key(['households.household_code']) }} as household_id,
        households.household_code,
        coalesce(townships.township_id, {{ unknown_key() }}) as township_id,
        coalesce(villages.village_id, {{ unknown_key() }}) as village_id,
        households.township_code,
        households.township_name,
        households.village_name,
        households.head_name,
        households.head_id_number_token,
        households.head_id_number_mask,
        households.household_type,
        households.household_size,
        households.phone_token,
        households.phone_mask,
        households.provider,
        households.source_file,
        households.sheet_name,
        households.row_number
    from households
    left join townships
        on households.township_code = townships.township_code
    left join villages
        on households.township_code = villages.township_code
        and households.village_name = villages.village_name
),

unknown as (
    select
        {{ unknown_key() }} as household_id,
        '-1' as household_code,
        {{ unknown_key() }} as township_id,
        {{ unknown_key() }} as village_id,
        '-1' as township_code,
        '未知' as township_name,
        '未知' as village_name,
        '未知' as head_name,
        cast(null as varchar) as head_id_number_token,
        cast(null as varchar) as head_id_number_mask,
        cast(null as varchar) as household_type,
        cast(null as integer) as household_size,
        cast(null as varchar) as phone_token,
        cast(null as varchar) as phone_mask,
        cast(null as varchar) as provider,
        cast(null as varchar) as source_file,
        cast(null as varchar) as sheet_name,
        cast(null as integer) as row_number
),

final as (
    select * from known
    union all
    select * from unknown
)

select * from final
