{#- Free text leaves the raw layer with every resident ID and mobile number in it masked, in any
    spelling a person types (separators, +86, full-width digits, Chinese numerals). The patterns
    are ingest/pii.py's ID_IN_TEXT and MOBILE_IN_TEXT, the same strings (tests/unit/
    test_pii_patterns.py holds them equal): the scan of the gate finds exactly what these miss.
    A number touched by another digit is not one (a longer run of digits, a run id). Each
    pattern is applied twice: a match takes the character after it, which may be where the
    next number starts (13800138000,13900139000). -#}
{% macro pii_id_in_text() -%}
    '(^|[^0-9０-９])([0-9０-９〇零一二三四五六七八九幺](?:[ \t\n\r\f\v 　.．_＿\-‐‑‒–—―－﹣−·・]?[0-9０-９〇零一二三四五六七八九幺]){16}[ \t\n\r\f\v 　.．_＿\-‐‑‒–—―－﹣−·・]?[XxＸｘ0-9０-９〇零一二三四五六七八九幺])([^0-9０-９]|$)'
{%- endmacro %}

{% macro pii_mobile_in_text() -%}
    '(^|[^0-9０-９])((?:[+＋]?(?:00)?86[ \t\n\r\f\v 　.．_＿\-‐‑‒–—―－﹣−·・]?)?[1１一幺][ \t\n\r\f\v 　.．_＿\-‐‑‒–—―－﹣−·・]?[3-9３-９三四五六七八九](?:[ \t\n\r\f\v 　.．_＿\-‐‑‒–—―－﹣−·・]?[0-9０-９〇零一二三四五六七八九幺]){9})([^0-9０-９]|$)'
{%- endmacro %}

{% macro scrub_pii(col) -%}
    {%- set id_number = pii_id_in_text() -%}
    {%- set mobile = pii_mobile_in_text() -%}
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        {{ col }},
        {{ id_number }}, '\1[身份证号已隐去]\3', 'g'),
        {{ id_number }}, '\1[身份证号已隐去]\3', 'g'),
        {{ mobile }}, '\1[手机号已隐去]\3', 'g'),
        {{ mobile }}, '\1[手机号已隐去]\3', 'g')
{%- endmacro %}
