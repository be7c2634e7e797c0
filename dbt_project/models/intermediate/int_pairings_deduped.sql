-- One row per natural key of pairings (see macro natural_key); the other rows are listed in
-- int_duplicates_merged. Rows a township sent for another township's household are not among
-- them (int_rows_from_other_units).
with

all_staged as (
    select * from {{ ref('stg_townships__pairings') }}
),

staged as (
    {{ from_own_units('all_staged', 'pairings') }}
),

file_versions as (
    select * from {{ ref('stg_ingest__file_versions') }}
),

deduped as (
    {{ dedupe_latest('staged', 'file_versions', natural_key('pairings')) }}
),

final as (
    select * from deduped
)

select * from final
