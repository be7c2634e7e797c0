-- One row per dataset: how many rows the loader put into raw (staging is 1:1 with raw). The
-- rows_not_conserved check in dq_results compares it with the marts.
{%- set datasets = raw_datasets() %}

with
{% for dataset, staging_model in datasets %}
{{ dataset }}_staged as (
    select * from {{ ref(staging_model) }}
),
{% endfor %}
final as (
    {%- for dataset, staging_model in datasets %}
    select '{{ dataset }}' as dataset, count(*) as raw_rows from {{ dataset }}_staged
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from final
