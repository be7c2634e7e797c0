-- One row per natural key of cadres (see macro natural_key); the other rows are listed in
-- int_duplicates_merged.
with

staged as (
    select * from {{ ref('stg_county__cadres') }}
),

file_versions as (
    select * from {{ ref('stg_ingest__file_versions') }}
),

deduped as (
    {{ dedupe_latest('staged', 'file_versions', natural_key('cadres')) }}
),

final as (
    select * from deduped
)

select * from final
