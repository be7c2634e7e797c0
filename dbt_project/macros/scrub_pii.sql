{#- Free text leaves the raw layer only with resident-ID and mobile-number patterns masked.
    IDs first (an 18-char ID contains 11-digit runs); separators inside the number are tolerated,
    and the match is deliberately greedy: over-masking a number is cheaper than leaking one. -#}
{% macro scrub_pii(col) -%}
    regexp_replace(
        regexp_replace(
            {{ col }},
            '[0-9]{6}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{3}[0-9Xx]',
            '[身份证号已隐去]',
            'g'
        ),
        '(\+?86[ -]?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}',
        '[手机号已隐去]',
        'g'
    )
{%- endmacro %}
