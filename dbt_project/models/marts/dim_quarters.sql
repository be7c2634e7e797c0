with

quarters as (
    select * from {{ ref('int_quarters_generated') }}
),

final as (
    select
        quarter,
        year,
        quarter_number,
        quarter_start,
        quarter_end,
        days_in_quarter,
        is_complete
    from quarters
)

select * from final
