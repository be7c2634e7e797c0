{#- Lineage columns that every raw dataset table carries after its data columns. -#}
{% macro lineage_columns() -%}
        provider,
        source_file,
        file_sha256,
        sheet_name,
        cast(row_number as integer) as row_number,
        load_id,
        loaded_at
{%- endmacro %}

{#- Codes are matched across sheets: trimmed, upper-cased, empty -> null. -#}
{% macro clean_code(col) -%}
    nullif(upper(trim({{ col }})), '')
{%- endmacro %}
