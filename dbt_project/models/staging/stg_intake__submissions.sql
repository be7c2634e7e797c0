-- Intake's fetch ledger as the night copied it (fetched_at on the county's clock): the sender's
-- mail address masked (its first character and its domain: b***@163.com), also where an
-- unknown sender's reason names it; names, paths, folders and reasons (which quote file names)
-- scrubbed of ID and phone numbers as every source_file is.
with

source as (
    select * from {{ source('raw', 'intake_submissions') }}
),

masked as (
    select
        *,
        case
            when sender like '%@%' then left(sender, 1) || '***@' || split_part(sender, '@', 2)
            else sender
        end as sender_masked
    from source
),

final as (
    select
        ledger_id,
        channel,
        provider,
        unit,
        {{ scrub_pii('sender_masked') }} as sender_masked,
        {{ scrub_pii('original_name') }} as original_name,
        {{ scrub_pii('landed_path') }} as landed_path,
        sha256,
        cast(size as bigint) as size_bytes,
        cast(fetched_at as timestamp) as fetched_at,
        cast(received_at as timestamp) as received_at,
        status,
        {{ scrub_pii("case when coalesce(sender, '') = '' then reason else replace(reason, sender, sender_masked) end") }} as reason
    from masked
)

select * from final
