-- One row per matter: the 一月一议 meeting it was due at (the last Friday of the month it was
-- raised; the next month's when raised after that meeting) and how its decision (议定日期) kept it.
with

matters as (
    select * from {{ ref('fct_matters') }}
),

dated as (
    select
        matters.*,
        {{ due_meeting('matters.raised_on') }} as due_meeting
    from matters
),

final as (
    select
        matter_id,
        matter_code,
        raised_on,
        decided_on,
        due_meeting,
        case
            when decided_on is null and due_meeting < {{ as_of_date() }} then 'undecided'
            when decided_on > due_meeting then 'decided_late'
        end as missed_meeting,
        decided_on is not null
            and decided_on <> {{ meeting_day('decided_on') }} as is_decided_off_meeting_day,
        provider,
        source_file,
        sheet_name,
        row_number
    from dated
)

select * from final
