{#- The run's as-of date as a DATE literal. The only source of "today" in the project: a rerun
    for the same as-of date gives the same warehouse. -#}
{% macro as_of_date() -%}
    {%- set raw = var('as_of') | string | trim -%}
    {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}$', raw) -%}
        {{ exceptions.raise_compiler_error("var('as_of') must be 'YYYY-MM-DD', got '" ~ raw ~ "'") }}
    {%- endif -%}
    cast('{{ raw }}' as date)
{%- endmacro %}
