{#- Lineage columns that every raw dataset table carries after its data columns. File and sheet
    names are the senders' text too: an ID or a phone number in them is masked (scrub_pii), so
    that a name can never block publishing; the same file's rows and ledger row stay joinable
    (the mask is the same on both sides, and file_sha256 goes with it); a row is told from
    another by sheet_sha256 (a hash of the file and sheet names as sent) and row_number, since two
    masked names may read the same. -#}
{% macro lineage_columns() -%}
        provider,
        {{ scrub_pii('source_file') }} as source_file,
        file_sha256,
        {{ scrub_pii('sheet_name') }} as sheet_name,
        -- the sheet's identity for joins (two masked names may read the same)
        sha256(concat(source.source_file, chr(0), coalesce(source.sheet_name, ''))) as sheet_sha256,
        cast(row_number as integer) as row_number,
        load_id,
        loaded_at
{%- endmacro %}

{#- Codes are matched across sheets: trimmed, upper-cased, empty -> null. -#}
{% macro clean_code(col) -%}
    nullif(upper(trim({{ col }})), '')
{%- endmacro %}

{#- The staged rows of `dataset` in `relation` without those a township sent for another
    township's household (int_rows_from_other_units): they are returned, never deduped or kept. -#}
{% macro from_own_units(relation, dataset) -%}
    select *
    from {{ relation }}
    where not exists (
        select 1
        from {{ ref('int_rows_from_other_units') }} as other_units
        where other_units.dataset = '{{ dataset }}'
            and other_units.sheet_sha256 = {{ relation }}.sheet_sha256
            and other_units.row_number = {{ relation }}.row_number
    )
{%- endmacro %}
