with

source as (
    select * from {{ source('raw', 'pairings') }}
),

final as (
    select
        {{ clean_code('cadre_code') }} as cadre_code,
        {{ scrub_pii('cadre_name') }} as cadre_name,
        {{ clean_code('household_code') }} as household_code,
        {{ mask_name(scrub_pii('head_name')) }} as head_name,
        cast(pair_start as date) as pair_start,
        cast(pair_end as date) as pair_end,
        {{ lineage_columns() }}
    from source
)

select * from final
