with

source as (
    select * from {{ source('raw', 'matters') }}
),

final as (
    select
        {{ clean_code('matter_code') }} as matter_code,
        source,
        category,
        cast(raised_on as date) as raised_on,
        township as township_name,
        township_code,
        {{ scrub_pii('place_or_partner') }} as place_or_partner,
        {{ scrub_pii('description') }} as description,
        cast(decided_on as date) as decided_on,
        {{ scrub_pii('owner_unit') }} as owner_unit,
        status,
        cast(closed_on as date) as closed_on,
        {{ lineage_columns() }}
    from source
)

select * from final
