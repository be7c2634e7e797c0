{#- A person's name as analysts see it: the first and the last character, the rest starred
    (韦小清 -> 韦*清, 韦清 -> 韦*). Household heads are not officials: their full names stay in
    the raw layer and in the return list of the unit that sent them. -#}
{% macro mask_name(col) -%}
    case
        when {{ col }} is null then null
        when length({{ col }}) <= 1 then '*'
        when length({{ col }}) = 2 then left({{ col }}, 1) || '*'
        else left({{ col }}, 1) || repeat('*', length({{ col }}) - 2) || right({{ col }}, 1)
    end
{%- endmacro %}
