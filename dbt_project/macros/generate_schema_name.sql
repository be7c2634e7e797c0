{#- Schemas are exactly staging / intermediate / marts (not <target>_marts): analysts' queries
    and the publishing step name them directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
