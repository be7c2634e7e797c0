-- One row per staged row that dedupe merged into another row with the same natural key: what
-- dq_results reports as duplicate_merged, and what makes raw and marts row counts add up (with
-- the rows returned to a township that sent them for another's household).
{%- set datasets = raw_datasets() %}

with
{% for dataset, staging_model in datasets %}
{{ dataset }}_all_staged as (
    select * from {{ ref(staging_model) }}
),

{{ dataset }}_staged as (
    {{ from_own_units(dataset ~ '_all_staged', dataset) }}
),

{{ dataset }}_deduped as (
    select * from {{ ref('int_' ~ dataset ~ '_deduped') }}
),
{% endfor %}
{% for dataset, staging_model in datasets %}
{{ dataset }}_merged as (
    {{ merged_duplicates(dataset, dataset ~ '_staged', dataset ~ '_deduped') }}
),
{% endfor %}
final as (
    {%- for dataset, staging_model in datasets %}
    select * from {{ dataset }}_merged
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from final
