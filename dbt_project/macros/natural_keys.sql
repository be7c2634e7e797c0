{#- The natural key of every dataset, as staged column names: `natural_key` of
    ingest/registry.yml (staging renames township -> township_name, village -> village_name,
    joint_branch -> joint_branch_name, enterprise -> enterprise_name). Used by dedupe, by the
    merged-duplicates listing and by the facts' surrogate keys, so the three always agree. -#}
{% macro natural_key(dataset) -%}
    {%- set keys = {
        'cadres': ['cadre_code'],
        'households': ['household_code'],
        'pairings': ['cadre_code', 'household_code', 'pair_start'],
        'visits': ['visit_date', 'cadre_code', 'household_code'],
        'work_teams': ['team_code', 'cadre_code'],
        'funding': ['funded_on', 'source_type', 'source_unit', 'amount_yuan', 'project_code', 'village_name'],
        'projects': ['project_code'],
        'branch_activities': ['joint_branch_name', 'activity_date', 'activity_type'],
        'talks': ['talk_date', 'cadre_code'],
        'matters': ['matter_code'],
        'enterprise_links': ['enterprise_name', 'village_name'],
    } -%}
    {%- if dataset not in keys -%}
        {{ exceptions.raise_compiler_error("no natural key for dataset '" ~ dataset ~ "'") }}
    {%- endif -%}
    {{ return(keys[dataset]) }}
{%- endmacro %}

{#- 'col=value, col=value' for reports (entity column of dq_results). -#}
{% macro natural_key_text(columns, relation_alias) -%}
    concat_ws(', '
        {%- for col in columns %},
        '{{ col }}=' || coalesce(cast({{ relation_alias }}.{{ col }} as varchar), '')
        {%- endfor %}
    )
{%- endmacro %}

{#- Every raw dataset and the staging model that is 1:1 with it. -#}
{% macro raw_datasets() -%}
    {{ return([
        ('cadres', 'stg_county__cadres'),
        ('households', 'stg_townships__households'),
        ('pairings', 'stg_townships__pairings'),
        ('visits', 'stg_townships__visits'),
        ('work_teams', 'stg_townships__work_teams'),
        ('funding', 'stg_partners__funding'),
        ('projects', 'stg_partners__projects'),
        ('branch_activities', 'stg_joint_branches__branch_activities'),
        ('talks', 'stg_county__talks'),
        ('matters', 'stg_partners__matters'),
        ('enterprise_links', 'stg_enterprises__enterprise_links'),
    ]) }}
{%- endmacro %}
