-- 一月一议 matters as people are shown them: one row per matter raised by the as-of date, with
-- whether it was done by then (已办结 and closed by the as-of date; a 已办结 matter without a
-- closing date counts from the day it was raised, as marts.program_headlines counts), its
-- status on that date, the days it took (done, and not closed before it was raised: that is a
-- data error, dq_results) or has been open, and the bucket of days the dashboard draws. Medians
-- do not add up, so this mart keeps one row per matter: group it by any column.
with matters as (
    select * from {{ ref('fct_matters') }}
    where raised_on <= {{ as_of_date() }}
),

flagged as (
    select
        *,
        days_to_close as span_days,
        status = '已办结' and coalesce(closed_on, raised_on) <= {{ as_of_date() }} as is_done
    from matters
),

final as (
    select
        matter_id,
        matter_code,
        category,
        provider,
        coalesce(township_code, '999') as township_code,
        coalesce(township_name, '{{ county_level_label() }}') as township_name,
        raised_on,
        strftime(raised_on, '%Y-%m') as raised_month,
        year(raised_on) || 'Q' || quarter(raised_on) as raised_quarter,
        is_done,
        case
            when is_done then '已办结'
            when status = '已办结' then '办理中'
            else status
        end as status_as_of,
        case when is_done then closed_on end as closed_on,
        case when is_done then strftime(closed_on, '%Y-%m') end as closed_month,
        case when is_done and span_days >= 0 then span_days end as days_to_close,
        case
            when not is_done or span_days is null then null
            when span_days < 0 then '日期有误'
            when span_days <= 7 then '7天以内'
            when span_days <= 15 then '8–15天'
            when span_days <= 30 then '16–30天'
            when span_days <= 60 then '31–60天'
            when span_days <= 90 then '61–90天'
            else '90天以上'
        end as close_time_bucket,
        case
            when not is_done then date_diff('day', raised_on, {{ as_of_date() }})
        end as days_open
    from flagged
)

select * from final
