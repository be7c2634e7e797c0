with

source as (
    select * from {{ source('raw', 'file_versions') }}
),

final as (
    select
        {{ scrub_pii('source_file') }} as source_file,
        provider,
        file_sha256,
        cast(size_bytes as bigint) as size_bytes,
        cast(first_seen as timestamp) as first_seen,
        cast(file_mtime as timestamp) as file_mtime,
        -- when the version arrived: saved before the loader first saw it, or first seen
        least(cast(first_seen as timestamp), coalesce(cast(file_mtime as timestamp), cast(first_seen as timestamp))) as arrived_at,
        status,
        cast(dataset_rows as integer) as dataset_rows,
        cast(rows_loaded as integer) as rows_loaded,
        cast(rows_quarantined as integer) as rows_quarantined,
        load_id
    from source
)

select * from final
