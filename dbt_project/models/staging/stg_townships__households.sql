with

source as (
    select * from {{ source('raw', 'households') }}
),

final as (
    select
        {{ clean_code('household_code') }} as household_code,
        township as township_name,
        township_code,
        village as village_name,
        {{ mask_name(scrub_pii('head_name')) }} as head_name,
        head_id_number_token,
        head_id_number_mask,
        household_type,
        cast(household_size as integer) as household_size,
        phone_token,
        phone_mask,
        {{ lineage_columns() }}
    from source
)

select * from final
