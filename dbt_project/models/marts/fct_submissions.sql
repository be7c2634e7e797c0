{#- One row per object intake saw by the as-of date (an attachment, a member of a zip, a file of
    a shared folder, a refused or unknown sender's mail): when and through which channel each
    unit sent what, what became of it (landed in the inbox, a duplicate of what the unit had
    sent, refused with the reason, or from a sender no unit is registered for) and, for a file
    that landed, how the loader took that version (its rows loaded and returned). -#}
with

submissions as (
    select * from {{ ref('stg_intake__submissions') }}
    where cast(fetched_at as date) <= {{ as_of_date() }}
),

versions as (
    select source_file, file_sha256, arg_max(status, first_seen) as load_status,
        max(rows_loaded) as rows_loaded, max(rows_quarantined) as rows_quarantined
    from {{ ref('stg_ingest__file_versions') }}
    group by source_file, file_sha256
),

townships as (
    select township_id, township_name
    from {{ ref('dim_townships') }}
    where township_id <> {{ unknown_key() }}
),

final as (
    select
        submissions.ledger_id as submission_id,
        submissions.fetched_at,
        coalesce(submissions.received_at, submissions.fetched_at) as received_at,
        cast(submissions.fetched_at as date) as fetched_on,
        submissions.channel,
        submissions.provider,
        submissions.unit,
        townships.township_id,
        submissions.sender_masked,
        submissions.original_name,
        submissions.landed_path,
        submissions.size_bytes,
        submissions.status,
        submissions.reason,
        versions.load_status,
        versions.rows_loaded,
        versions.rows_quarantined
    from submissions
    left join townships
        on submissions.provider = 'townships' and submissions.unit = townships.township_name
    left join versions
        on submissions.status = 'landed'
        and submissions.landed_path = versions.source_file
        and submissions.sha256 = versions.file_sha256
)

select * from final
