{#- Keep one row per natural key: the row from the most recently first-seen file version, then
    the highest spreadsheet row number (source_file and sheet_name only break exact ties, so the
    choice is deterministic). `staged` is a CTE of a staging model; `file_versions` a CTE of
    stg_ingest__file_versions. Adds the kept row's first_seen. -#}
{% macro dedupe_latest(staged, file_versions, natural_key) -%}
    select
        {{ staged }}.*,
        versions.first_seen
    from {{ staged }}
    left join (
        select source_file, file_sha256, min(first_seen) as first_seen
        from {{ file_versions }}
        group by source_file, file_sha256
    ) as versions
        on {{ staged }}.source_file = versions.source_file
        and {{ staged }}.file_sha256 = versions.file_sha256
    qualify row_number() over (
        partition by {% for col in natural_key %}{{ staged }}.{{ col }}{% if not loop.last %}, {% endif %}{% endfor %}
        order by
            versions.first_seen desc nulls last,
            {{ staged }}.row_number desc,
            {{ staged }}.source_file desc,
            {{ staged }}.sheet_name desc nulls last
    ) = 1
{%- endmacro %}

{#- Every staged row that dedupe did not keep, with the row it was merged into. -#}
{% macro merged_duplicates(dataset, staged, deduped) -%}
    {%- set keys = natural_key(dataset) -%}
    select
        '{{ dataset }}' as dataset,
        {{ natural_key_text(keys, staged) }} as natural_key,
        {{ staged }}.provider,
        {{ staged }}.source_file,
        {{ staged }}.sheet_name,
        {{ staged }}.sheet_sha256,
        {{ staged }}.row_number,
        {{ deduped }}.source_file as kept_source_file,
        {{ deduped }}.sheet_name as kept_sheet_name,
        {{ deduped }}.row_number as kept_row_number
    from {{ staged }}
    inner join {{ deduped }}
        on {% for col in keys %}{{ staged }}.{{ col }} is not distinct from {{ deduped }}.{{ col }}{% if not loop.last %}
        and {% endif %}{% endfor %}
    where not (
        {{ staged }}.sheet_sha256 = {{ deduped }}.sheet_sha256
        and {{ staged }}.row_number = {{ deduped }}.row_number
    )
{%- endmacro %}
