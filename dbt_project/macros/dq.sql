{#- Building blocks of marts.dq_results. Every block yields the same columns:
    rule_id, severity, dataset, entity, period, detail, provider, source_file, sheet_name,
    row_number. -#}

{#- Rows of `relation` whose foreign key `fk` matches no row of `parent`.`parent_key`.
    A NULL key dangles too, unless the key is optional (`nullable`). -#}
{% macro dq_dangling_fk(relation, table_name, key, fk, parent, parent_table_name, parent_key, dataset, nullable=false, has_lineage=true) -%}
    select
        'dangling_foreign_key' as rule_id,
        'error' as severity,
        '{{ dataset }}' as dataset,
        '{{ table_name }}.{{ key }}=' || coalesce(cast({{ relation }}.{{ key }} as varchar), '') as entity,
        cast(null as varchar) as period,
        '{{ table_name }}.{{ fk }} = ' || coalesce(cast({{ relation }}.{{ fk }} as varchar), 'NULL')
            || ' 在 {{ parent_table_name }}.{{ parent_key }} 中不存在' as detail,
        {%- if has_lineage %}
        {{ relation }}.provider,
        {{ relation }}.source_file,
        {{ relation }}.sheet_name,
        {{ relation }}.row_number
        {%- else %}
        cast(null as varchar) as provider,
        cast(null as varchar) as source_file,
        cast(null as varchar) as sheet_name,
        cast(null as integer) as row_number
        {%- endif %}
    from {{ relation }}
    where {% if nullable %}{{ relation }}.{{ fk }} is not null and {% endif %}not exists (
        select 1 from {{ parent }}
        where {{ parent }}.{{ parent_key }} = {{ relation }}.{{ fk }}
    )
{%- endmacro %}

{#- One row per key value that occurs more than once in `relation`. -#}
{% macro dq_key_not_unique(relation, table_name, key, dataset) -%}
    select
        'fact_key_not_unique' as rule_id,
        'error' as severity,
        '{{ dataset }}' as dataset,
        '{{ table_name }}.{{ key }}=' || coalesce(cast({{ key }} as varchar), 'NULL') as entity,
        cast(null as varchar) as period,
        '{{ table_name }} 的主键 {{ key }} 出现 ' || cast(count(*) as varchar) || ' 次' as detail,
        cast(null as varchar) as provider,
        cast(null as varchar) as source_file,
        cast(null as varchar) as sheet_name,
        cast(null as integer) as row_number
    from {{ relation }}
    group by {{ key }}
    having count(*) > 1 or {{ key }} is null
{%- endmacro %}
