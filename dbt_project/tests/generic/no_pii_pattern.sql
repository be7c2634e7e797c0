{#- The column holds no resident ID or mobile number in any spelling (the patterns of
    scrub_pii): free text leaving the raw layer must have gone through scrub_pii. -#}
{% test no_pii_pattern(model, column_name) %}

with

final as (
    select {{ column_name }}
    from {{ model }}
    where regexp_matches({{ column_name }}, {{ pii_id_in_text() }})
        or regexp_matches({{ column_name }}, {{ pii_mobile_in_text() }})
)

select * from final

{% endtest %}
