with

cadres as (
    select * from {{ ref('int_cadres_unioned') }}
),

known as (
    select
        {{ surrogate_key(['cadre_code']) }} as cadre_id,
        cadre_code,
        cadre_name,
        sex,
        unit,
        rank,
        is_org_dept,
        phone_token,
        phone_mask,
        on_county_roster,
        provider,
        source_file,
        sheet_name,
        row_number
    from cadres
),

unknown as (
    select
        {{ unknown_key() }} as cadre_id,
        '-1' as cadre_code,
        '未知' as cadre_name,
        cast(null as varchar) as sex,
        cast(null as varchar) as unit,
        cast(null as varchar) as rank,
        false as is_org_dept,
        cast(null as varchar) as phone_token,
        cast(null as varchar) as phone_mask,
        false as on_county_roster,
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
