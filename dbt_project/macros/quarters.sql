{#- Calendar quarter helpers. A quarter label looks like '2013Q2'. -#}
{% macro quarter_label(date_expr) -%}
    (cast(year({{ date_expr }}) as varchar) || 'Q' || cast(quarter({{ date_expr }}) as varchar))
{%- endmacro %}

{% macro quarter_start(date_expr) -%}
    cast(date_trunc('quarter', {{ date_expr }}) as date)
{%- endmacro %}

{% macro quarter_end(date_expr) -%}
    cast(date_trunc('quarter', {{ date_expr }}) + interval 3 month - interval 1 day as date)
{%- endmacro %}

{#- Inclusive day count of the overlap of [a_start, a_end] and [b_start, b_end]; 0 if disjoint. -#}
{% macro overlap_days(a_start, a_end, b_start, b_end) -%}
    greatest(
        0,
        datediff('day', greatest({{ a_start }}, {{ b_start }}), least({{ a_end }}, {{ b_end }})) + 1
    )
{%- endmacro %}
