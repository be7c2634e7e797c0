-- One row per calendar quarter from the programme start (var programme_start, 2012Q1) through
-- the quarter holding the as-of date. is_complete: the quarter ended on or before the as-of date.
with

bounds as (
    select
        {{ quarter_start("cast('" ~ var('programme_start') ~ "' as date)") }} as first_quarter_start,
        {{ quarter_start(as_of_date()) }} as last_quarter_start
),

spine as (
    select cast(unnest(generate_series(first_quarter_start, last_quarter_start, interval 3 month)) as date)
        as quarter_start
    from bounds
),

final as (
    select
        {{ quarter_label('quarter_start') }} as quarter,
        cast(year(quarter_start) as integer) as year,
        cast(quarter(quarter_start) as integer) as quarter_number,
        quarter_start,
        {{ quarter_end('quarter_start') }} as quarter_end,
        datediff('day', quarter_start, {{ quarter_end('quarter_start') }}) + 1 as days_in_quarter,
        {{ quarter_end('quarter_start') }} <= {{ as_of_date() }} as is_complete
    from spine
)

select * from final
