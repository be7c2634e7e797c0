-- One row per natural key of branch_activities (see macro natural_key); the other rows are listed in
-- int_duplicates_merged.
with

staged as (
    select * from {{ ref('stg_joint_branches__branch_activities') }}
),

file_versions as (
    select * from {{ ref('stg_ingest__file_versions') }}
),

deduped as (
    {{ dedupe_latest('staged', 'file_versions', natural_key('branch_activities')) }}
),

final as (
    select * from deduped
)

select * from final
