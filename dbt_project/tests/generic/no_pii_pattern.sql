{#- The column holds no resident-ID (18 chars) or mobile-number (11 digits) pattern: free text
    leaving the raw layer must have gone through scrub_pii. -#}
{% test no_pii_pattern(model, column_name) %}

with

final as (
    select {{ column_name }}
    from {{ model }}
    where regexp_matches({{ column_name }}, '[0-9]{17}[0-9Xx]')
        or regexp_matches({{ column_name }}, '1[3-9][0-9]{9}')
)

select * from final

{% endtest %}
