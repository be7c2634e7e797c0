with

source as (
    select * from {{ source('raw', 'file_versions') }}
),

final as (
    select
        source_file,
        provider,
        file_sha256,
        cast(size_bytes as bigint) as size_bytes,
        cast(first_seen as timestamp) as first_seen,
        status,
        cast(dataset_rows as integer) as dataset_rows,
        cast(rows_loaded as integer) as rows_loaded,
        cast(rows_quarantined as integer) as rows_quarantined,
        load_id
    from source
)

select * from final
