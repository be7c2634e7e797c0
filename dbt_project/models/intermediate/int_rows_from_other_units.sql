-- One row per visit or pairing a township sent for another township's household: returned to
-- its sender (dq_results: row_from_other_unit), never in the facts, so it can neither meet another
-- township's obligation nor replace its rows. The loader already returns a row whose 乡镇 names
-- another township (other_unit); these name none, and the household tells. A file outside a
-- township's folder, or a household no township has reported, is not judged here.
with

visits as (
    select * from {{ ref('stg_townships__visits') }}
),

pairings as (
    select * from {{ ref('stg_townships__pairings') }}
),

households as (
    select * from {{ ref('int_households_deduped') }}
),

townships as (
    select * from {{ ref('stg_gazetteer__townships') }}
),

staged as (
    select
        'visits' as dataset, provider, source_file, sheet_name, sheet_sha256, row_number, household_code
    from visits
    union all
    select 'pairings', provider, source_file, sheet_name, sheet_sha256, row_number, household_code
    from pairings
),

final as (
    select
        staged.dataset,
        staged.provider,
        staged.source_file,
        staged.sheet_name,
        staged.sheet_sha256,
        staged.row_number,
        staged.household_code,
        senders.township_name as sender_township_name,
        owners.township_name as household_township_name
    from staged
    inner join townships as senders
        on staged.provider = 'townships'
        and split_part(staged.source_file, '/', 2) = senders.township_name
    inner join households
        on staged.household_code = households.household_code
    inner join townships as owners
        on households.township_code = owners.township_code
    where owners.township_code <> senders.township_code
)

select * from final
