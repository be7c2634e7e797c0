with

source as (
    select * from {{ source('raw', 'cadres') }}
),

final as (
    select
        {{ clean_code('cadre_code') }} as cadre_code,
        {{ scrub_pii('cadre_name') }} as cadre_name,
        sex,
        {{ scrub_pii('unit') }} as unit,
        rank,
        cast(is_org_dept as boolean) as is_org_dept,
        phone_token,
        phone_mask,
        {{ lineage_columns() }}
    from source
)

select * from final
