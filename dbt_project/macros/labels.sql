{# The names people are shown for a record that names no township. A household, cadre or visit
   that no roster places is 未知乡镇 (rpt_visit_coverage); funding, a project or a matter that
   names no township belongs to the county itself (rpt_funding, rpt_projects, rpt_matters). #}
{% macro county_level_label() -%}县级（未落到乡镇）{%- endmacro %}

{% macro unknown_township_label() -%}未知乡镇{%- endmacro %}
