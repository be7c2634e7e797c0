{#- One row per township and calendar quarter ended by the as-of date in which the township
    owed visits (a household of it paired that quarter: a township with nothing to report owes
    no report): when that township's visit log for the quarter first arrived (the earliest
    arrival of any file holding its visits of that quarter: when intake fetched it, where it came
    through intake, else the file ledger's arrival) and how many days after the quarter's end. A
    log that arrived after the as-of date had not arrived on that date. -#}
with

visits as (
    select township_id, quarter, source_file
    from {{ ref('fct_visits') }}
    where township_id <> {{ unknown_key() }}
),

fetched as (
    -- when the mail server received it (or the listing first showed it), not when intake ran
    select landed_path as source_file, sha256, min(coalesce(received_at, fetched_at)) as fetched_at
    from {{ ref('stg_intake__submissions') }}
    where status = 'landed'
    group by landed_path, sha256
),

versions as (
    select
        file_versions.source_file,
        min(coalesce(fetched.fetched_at, file_versions.arrived_at)) as arrived_at
    from {{ ref('stg_ingest__file_versions') }} as file_versions
    left join fetched
        on file_versions.source_file = fetched.source_file
        and file_versions.file_sha256 = fetched.sha256
    where file_versions.status <> 'quarantined'
    group by file_versions.source_file
),

arrivals as (
    select
        visits.township_id,
        visits.quarter,
        min(versions.arrived_at) as first_arrived_at,
        arg_min(visits.source_file, versions.arrived_at) as first_source_file
    from visits
    inner join versions on visits.source_file = versions.source_file
    where cast(versions.arrived_at as date) <= {{ as_of_date() }}
    group by visits.township_id, visits.quarter
),

townships as (
    select township_id, township_code, township_name
    from {{ ref('dim_townships') }}
    where township_id <> {{ unknown_key() }}
),

quarters as (
    select quarter, quarter_end
    from {{ ref('dim_quarters') }}
    where quarter_end <= {{ as_of_date() }}
),

owed as (
    select distinct households.township_id, pairing_quarters.quarter
    from {{ ref('fct_pairing_quarters') }} as pairing_quarters
    inner join {{ ref('dim_households') }} as households using (household_id)
),

grid as (
    select townships.*, quarters.*
    from townships
    cross join quarters
    inner join owed
        on townships.township_id = owed.township_id
        and quarters.quarter = owed.quarter
),

measured as (
    select
        grid.*,
        grid.quarter_end + {{ var('report_due_days') }} as due_on,
        arrivals.first_arrived_at,
        cast(arrivals.first_arrived_at as date) as first_arrived_on,
        date_diff('day', grid.quarter_end, cast(arrivals.first_arrived_at as date)) as days_after_quarter_end,
        arrivals.first_source_file
    from grid
    left join arrivals
        on grid.township_id = arrivals.township_id
        and grid.quarter = arrivals.quarter
),

final as (
    select
        {{ surrogate_key(['township_id', 'quarter']) }} as timeliness_id,
        township_id,
        township_code,
        township_name,
        quarter,
        quarter_end,
        due_on,
        first_arrived_at,
        first_arrived_on,
        days_after_quarter_end,
        first_source_file,
        case
            when first_arrived_on is not null and first_arrived_on <= due_on then '按时'
            when first_arrived_on is not null then '迟报'
            when due_on >= {{ as_of_date() }} then '未到期'
            else '未报送'
        end as status,
        (first_arrived_on is not null and first_arrived_on > due_on)
            or (first_arrived_on is null and due_on < {{ as_of_date() }}) as is_late
    from measured
)

select * from final
