-- Funding as people are shown it: one row per month, township, source type and provider, with
-- the number of funding rows and the yuan received. Only funding received by the as-of date
-- counts (a backfill restates an earlier date; docs/RULES.md, figures as people are shown them).
-- Funding that names no township is county-level (县级（未落到乡镇）, code 999). Every column
-- adds up, so the dashboard, the quarterly report and BI tools sum these rows for any slice.
with funding as (
    select * from {{ ref('fct_funding') }}
    where funded_on <= {{ as_of_date() }}
),

final as (
    select
        strftime(funded_on, '%Y-%m') as month,
        year(funded_on) || 'Q' || quarter(funded_on) as quarter,
        coalesce(township_code, '999') as township_code,
        coalesce(township_name, '{{ county_level_label() }}') as township_name,
        source_type,
        provider,
        count(*) as funding_rows,
        sum(amount_yuan) as amount_yuan
    from funding
    group by all
)

select * from final
