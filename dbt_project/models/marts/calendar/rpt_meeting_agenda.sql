{#- 一月一议议题清单: the pack for the next 一月一议 after the as-of date (the last Friday of the
    month; the as-of date itself when it is that day). One row per matter on the agenda: raised
    since the last meeting (new), or raised before and still open (待议 or 办理中), by category,
    with its responsible unit(s); a matter with several responsible departments is led by the
    department's head (部长牵头), one that a township or one department can settle is followed by
    a named person. days_open counts from the day it was raised to the meeting. -#}
with

matters as (
    select * from {{ ref('fct_matters') }}
    where raised_on <= {{ as_of_date() }}
),

meetings as (
    select
        {{ due_meeting(as_of_date()) }} as next_meeting,
        {{ meeting_day('(' ~ due_meeting(as_of_date()) ~ ' - interval 1 month)') }} as last_meeting
),

on_agenda as (
    select
        matters.*,
        meetings.next_meeting,
        meetings.last_meeting,
        matters.raised_on > meetings.last_meeting as is_new
    from matters
    cross join meetings
    where matters.raised_on > meetings.last_meeting
        or matters.status in ('待议', '办理中')
),

final as (
    select
        {{ as_of_date() }} as as_of,
        next_meeting,
        last_meeting,
        category,
        matter_id,
        matter_code,
        source,
        raised_on,
        is_new,
        status,
        decided_on,
        township_name,
        place_or_partner,
        description,
        owner_unit,
        -- several departments: 、 ， , ／ / ； ; or 和/及 between names
        coalesce(regexp_matches(owner_unit, '[、，,／/；;]|[和及]'), false) as is_multi_department,
        case
            when coalesce(regexp_matches(owner_unit, '[、，,／/；;]|[和及]'), false)
                then '部长牵头'
            else '责任人跟踪'
        end as lead,
        cast(datediff('day', raised_on, next_meeting) as integer) as days_open
    from on_agenda
)

select * from final
