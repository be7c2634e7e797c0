-- One row per offending record and rule (docs/RULES.md, further checks). Warnings describe what a
-- partner sent and are sent back to the sender; errors stop publishing.
{%- set facts = [
    ('visits', 'fct_visits', 'visit_id', 'visits'),
    ('pairings', 'fct_pairings', 'pairing_id', 'pairings'),
    ('pairing_quarters', 'fct_pairing_quarters', 'pairing_quarter_id', 'pairings'),
    ('talks', 'fct_talks', 'talk_id', 'talks'),
    ('funding', 'fct_funding', 'funding_id', 'funding'),
    ('projects', 'fct_projects', 'project_id', 'projects'),
    ('branch_activities', 'fct_branch_activities', 'activity_id', 'branch_activities'),
    ('matters', 'fct_matters', 'matter_id', 'matters'),
    ('work_team_members', 'fct_work_team_members', 'work_team_member_id', 'work_teams'),
    ('enterprise_links', 'fct_enterprise_links', 'enterprise_link_id', 'enterprise_links'),
    ('cadres', 'dim_cadres', 'cadre_id', 'cadres'),
    ('households', 'dim_households', 'household_id', 'households'),
    ('villages', 'dim_villages', 'village_id', 'households'),
    ('townships', 'dim_townships', 'township_id', 'townships'),
    ('joint_branches', 'dim_joint_branches', 'joint_branch_id', 'branch_activities'),
    ('enterprises', 'dim_enterprises', 'enterprise_id', 'enterprise_links'),
    ('quarters', 'dim_quarters', 'quarter', 'quarters'),
] %}
{#- (relation, table, key, fk, parent, parent_key, dataset, nullable, has_lineage) -#}
{%- set foreign_keys = [
    ('visits', 'fct_visits', 'visit_id', 'cadre_id', 'cadres', 'cadre_id', 'visits', false, true),
    ('visits', 'fct_visits', 'visit_id', 'household_id', 'households', 'household_id', 'visits', false, true),
    ('visits', 'fct_visits', 'visit_id', 'village_id', 'villages', 'village_id', 'visits', false, true),
    ('visits', 'fct_visits', 'visit_id', 'township_id', 'townships', 'township_id', 'visits', false, true),
    ('pairings', 'fct_pairings', 'pairing_id', 'cadre_id', 'cadres', 'cadre_id', 'pairings', false, true),
    ('pairings', 'fct_pairings', 'pairing_id', 'household_id', 'households', 'household_id', 'pairings', false, true),
    ('pairing_quarters', 'fct_pairing_quarters', 'pairing_quarter_id', 'pairing_id', 'pairings', 'pairing_id', 'pairings', false, false),
    ('pairing_quarters', 'fct_pairing_quarters', 'pairing_quarter_id', 'cadre_id', 'cadres', 'cadre_id', 'pairings', false, false),
    ('pairing_quarters', 'fct_pairing_quarters', 'pairing_quarter_id', 'household_id', 'households', 'household_id', 'pairings', false, false),
    ('pairing_quarters', 'fct_pairing_quarters', 'pairing_quarter_id', 'quarter', 'quarters', 'quarter', 'pairings', false, false),
    ('talks', 'fct_talks', 'talk_id', 'cadre_id', 'cadres', 'cadre_id', 'talks', false, true),
    ('funding', 'fct_funding', 'funding_id', 'township_id', 'townships', 'township_id', 'funding', false, true),
    ('funding', 'fct_funding', 'funding_id', 'village_id', 'villages', 'village_id', 'funding', false, true),
    ('funding', 'fct_funding', 'funding_id', 'project_id', 'projects', 'project_id', 'funding', true, true),
    ('projects', 'fct_projects', 'project_id', 'township_id', 'townships', 'township_id', 'projects', false, true),
    ('projects', 'fct_projects', 'project_id', 'village_id', 'villages', 'village_id', 'projects', false, true),
    ('branch_activities', 'fct_branch_activities', 'activity_id', 'joint_branch_id', 'joint_branches', 'joint_branch_id', 'branch_activities', false, true),
    ('matters', 'fct_matters', 'matter_id', 'township_id', 'townships', 'township_id', 'matters', false, true),
    ('work_team_members', 'fct_work_team_members', 'work_team_member_id', 'cadre_id', 'cadres', 'cadre_id', 'work_teams', false, true),
    ('work_team_members', 'fct_work_team_members', 'work_team_member_id', 'village_id', 'villages', 'village_id', 'work_teams', false, true),
    ('work_team_members', 'fct_work_team_members', 'work_team_member_id', 'township_id', 'townships', 'township_id', 'work_teams', false, true),
    ('enterprise_links', 'fct_enterprise_links', 'enterprise_link_id', 'enterprise_id', 'enterprises', 'enterprise_id', 'enterprise_links', false, true),
    ('enterprise_links', 'fct_enterprise_links', 'enterprise_link_id', 'village_id', 'villages', 'village_id', 'enterprise_links', false, true),
    ('enterprise_links', 'fct_enterprise_links', 'enterprise_link_id', 'township_id', 'townships', 'township_id', 'enterprise_links', false, true),
    ('enterprise_links', 'fct_enterprise_links', 'enterprise_link_id', 'project_id', 'projects', 'project_id', 'enterprise_links', true, true),
    ('households', 'dim_households', 'household_id', 'township_id', 'townships', 'township_id', 'households', false, true),
    ('households', 'dim_households', 'household_id', 'village_id', 'villages', 'village_id', 'households', false, true),
    ('villages', 'dim_villages', 'village_id', 'township_id', 'townships', 'township_id', 'households', false, false),
] %}
{%- set table_of = {} %}
{%- for relation, table_name, key, dataset in facts %}
    {%- do table_of.update({relation: table_name}) %}
{%- endfor %}

with
{% for relation, table_name, key, dataset in facts %}
{{ relation }} as (
    select * from {{ ref(table_name) }}
),
{% endfor %}
merged_duplicates as (
    select * from {{ ref('int_duplicates_merged') }}
),

raw_rows as (
    select * from {{ ref('int_raw_rows_counted') }}
),

rows_from_other_units as (
    select * from {{ ref('int_rows_from_other_units') }}
),

talk_obligations as (
    select * from {{ ref('int_talk_obligations') }}
),

matter_meetings as (
    select * from {{ ref('int_matter_meetings') }}
),

-- warnings -------------------------------------------------------------------------------------

visit_unpaired as (
    select
        'visit_unpaired' as rule_id,
        'warning' as severity,
        'visits' as dataset,
        {{ natural_key_text(natural_key('visits'), 'visits') }} as entity,
        visits.quarter as period,
        '走访当日干部 ' || visits.cadre_code || ' 与户 ' || visits.household_code || ' 无有效结对关系' as detail,
        visits.provider,
        visits.source_file,
        visits.sheet_name,
        visits.row_number
    from visits
    where not visits.is_paired
),

unknown_cadre as (
    {%- for relation, dataset, date_col in [('pairings', 'pairings', 'pair_start'), ('visits', 'visits', 'visit_date'), ('talks', 'talks', 'talk_date')] %}
    select
        'unknown_cadre' as rule_id,
        'warning' as severity,
        '{{ dataset }}' as dataset,
        {{ natural_key_text(natural_key(dataset), relation) }} as entity,
        {{ quarter_label(relation ~ '.' ~ date_col) }} as period,
        '干部编号 ' || coalesce({{ relation }}.cadre_code, '') || ' 不在干部名册或驻村工作队名册中' as detail,
        {{ relation }}.provider,
        {{ relation }}.source_file,
        {{ relation }}.sheet_name,
        {{ relation }}.row_number
    from {{ relation }}
    where {{ relation }}.cadre_id = {{ unknown_key() }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

unknown_household as (
    {%- for relation, dataset, date_col in [('pairings', 'pairings', 'pair_start'), ('visits', 'visits', 'visit_date')] %}
    select
        'unknown_household' as rule_id,
        'warning' as severity,
        '{{ dataset }}' as dataset,
        {{ natural_key_text(natural_key(dataset), relation) }} as entity,
        {{ quarter_label(relation ~ '.' ~ date_col) }} as period,
        '户编号 ' || coalesce({{ relation }}.household_code, '') || ' 不在困难户信息中' as detail,
        {{ relation }}.provider,
        {{ relation }}.source_file,
        {{ relation }}.sheet_name,
        {{ relation }}.row_number
    from {{ relation }}
    where {{ relation }}.household_id = {{ unknown_key() }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

unknown_village as (
    {%- for relation, dataset, date_col in [('visits', 'visits', 'visit_date'), ('funding', 'funding', 'funded_on'), ('projects', 'projects', 'started_on'), ('enterprise_links', 'enterprise_links', 'linked_on')] %}
    select
        'unknown_village' as rule_id,
        'warning' as severity,
        '{{ dataset }}' as dataset,
        {{ natural_key_text(natural_key(dataset), relation) }} as entity,
        {{ quarter_label(relation ~ '.' ~ date_col) }} as period,
        '村委会 ' || coalesce({{ relation }}.village_name, '') || ' 不在'
            || coalesce({{ relation }}.township_name, '所填乡镇') || '已知的村委会中' as detail,
        {{ relation }}.provider,
        {{ relation }}.source_file,
        {{ relation }}.sheet_name,
        {{ relation }}.row_number
    from {{ relation }}
    where {{ relation }}.is_village_unknown
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

present_exceeds_expected as (
    select
        'present_exceeds_expected' as rule_id,
        'warning' as severity,
        'branch_activities' as dataset,
        {{ natural_key_text(natural_key('branch_activities'), 'branch_activities') }} as entity,
        branch_activities.quarter as period,
        '实到人数 ' || cast(branch_activities.present_count as varchar)
            || ' 大于应到人数 ' || cast(branch_activities.expected_count as varchar) as detail,
        branch_activities.provider,
        branch_activities.source_file,
        branch_activities.sheet_name,
        branch_activities.row_number
    from branch_activities
    where branch_activities.present_count > branch_activities.expected_count
),

matter_closed_before_raised as (
    select
        'matter_closed_before_raised' as rule_id,
        'warning' as severity,
        'matters' as dataset,
        {{ natural_key_text(natural_key('matters'), 'matters') }} as entity,
        {{ quarter_label('matters.raised_on') }} as period,
        '办结日期 ' || cast(matters.closed_on as varchar)
            || ' 早于反映日期 ' || cast(matters.raised_on as varchar) as detail,
        matters.provider,
        matters.source_file,
        matters.sheet_name,
        matters.row_number
    from matters
    where matters.closed_on < matters.raised_on
),

matter_closed_without_date as (
    select
        'matter_closed_without_date' as rule_id,
        'warning' as severity,
        'matters' as dataset,
        {{ natural_key_text(natural_key('matters'), 'matters') }} as entity,
        {{ quarter_label('matters.raised_on') }} as period,
        '状态为已办结但未填办结日期' as detail,
        matters.provider,
        matters.source_file,
        matters.sheet_name,
        matters.row_number
    from matters
    where matters.status = '已办结'
        and matters.closed_on is null
),

talk_wrong_leader as (
    select
        'talk_wrong_leader' as rule_id,
        'warning' as severity,
        'talks' as dataset,
        {{ natural_key_text(natural_key('talks'), 'talk_obligations') }} as entity,
        cast(year(talk_obligations.talk_date) as varchar) as period,
        '干部职级为' || talk_obligations.cadre_rank || '，应由' || talk_obligations.required_role
            || '约谈，实际约谈人为' || talk_obligations.interviewer_role as detail,
        talk_obligations.provider,
        talk_obligations.source_file,
        talk_obligations.sheet_name,
        talk_obligations.row_number
    from talk_obligations
    where talk_obligations.interviewer_role <> talk_obligations.required_role
),

talk_missing_topics as (
    select
        'talk_missing_topics' as rule_id,
        'warning' as severity,
        'talks' as dataset,
        {{ natural_key_text(natural_key('talks'), 'talk_obligations') }} as entity,
        cast(year(talk_obligations.talk_date) as varchar) as period,
        '六必谈只谈了 ' || cast(talk_obligations.topics_covered as varchar) || ' 项，未谈：'
            || talk_obligations.topics_missing as detail,
        talk_obligations.provider,
        talk_obligations.source_file,
        talk_obligations.sheet_name,
        talk_obligations.row_number
    from talk_obligations
    where talk_obligations.topics_covered < {{ talk_topics() | length }}
),

matter_not_decided_at_meeting as (
    select
        'matter_not_decided_at_meeting' as rule_id,
        'warning' as severity,
        'matters' as dataset,
        {{ natural_key_text(natural_key('matters'), 'matter_meetings') }} as entity,
        {{ quarter_label('matter_meetings.raised_on') }} as period,
        '应在 ' || cast(matter_meetings.due_meeting as varchar) || ' 的一月一议会议上议定，'
            || case matter_meetings.missed_meeting
                when 'undecided' then '至统计截止日仍未议定'
                else '实际于 ' || cast(matter_meetings.decided_on as varchar) || ' 议定'
            end as detail,
        matter_meetings.provider,
        matter_meetings.source_file,
        matter_meetings.sheet_name,
        matter_meetings.row_number
    from matter_meetings
    where matter_meetings.missed_meeting is not null
),

matter_decided_off_meeting_day as (
    select
        'matter_decided_off_meeting_day' as rule_id,
        'warning' as severity,
        'matters' as dataset,
        {{ natural_key_text(natural_key('matters'), 'matter_meetings') }} as entity,
        {{ quarter_label('matter_meetings.raised_on') }} as period,
        '议定日期 ' || cast(matter_meetings.decided_on as varchar)
            || ' 不是一月一议会议日（每月最后一个星期五；当月为 '
            || cast({{ meeting_day('matter_meetings.decided_on') }} as varchar) || '）' as detail,
        matter_meetings.provider,
        matter_meetings.source_file,
        matter_meetings.sheet_name,
        matter_meetings.row_number
    from matter_meetings
    where matter_meetings.is_decided_off_meeting_day
),

funding_over_million as (
    select
        'funding_over_million' as rule_id,
        'warning' as severity,
        'funding' as dataset,
        {{ natural_key_text(natural_key('funding'), 'funding') }} as entity,
        {{ quarter_label('funding.funded_on') }} as period,
        '金额 ' || cast(funding.amount_yuan as varchar) || ' 元超过100万元，请核对单位（元/万元）' as detail,
        funding.provider,
        funding.source_file,
        funding.sheet_name,
        funding.row_number
    from funding
    where funding.amount_yuan > 1000000
),

duplicate_merged as (
    select
        'duplicate_merged' as rule_id,
        'warning' as severity,
        merged_duplicates.dataset,
        merged_duplicates.natural_key as entity,
        cast(null as varchar) as period,
        '与 ' || merged_duplicates.kept_source_file || ' [' || coalesce(merged_duplicates.kept_sheet_name, '')
            || '] 第 ' || cast(merged_duplicates.kept_row_number as varchar) || ' 行重复，已合并（保留该行）' as detail,
        merged_duplicates.provider,
        merged_duplicates.source_file,
        merged_duplicates.sheet_name,
        merged_duplicates.row_number
    from merged_duplicates
),

row_from_other_unit as (
    select
        'row_from_other_unit' as rule_id,
        'warning' as severity,
        rows_from_other_units.dataset,
        rows_from_other_units.household_code as entity,
        cast(null as varchar) as period,
        '户编号 ' || rows_from_other_units.household_code || ' 是' || rows_from_other_units.household_township_name
            || '的户，不是报送单位' || rows_from_other_units.sender_township_name
            || '的：该行未入库，请由' || rows_from_other_units.household_township_name || '报送' as detail,
        rows_from_other_units.provider,
        rows_from_other_units.source_file,
        rows_from_other_units.sheet_name,
        rows_from_other_units.row_number
    from rows_from_other_units
),

-- errors ---------------------------------------------------------------------------------------

fact_key_not_unique as (
    {%- for relation, table_name, key, dataset in facts %}
    {{ dq_key_not_unique(relation, table_name, key, dataset) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

mart_rows as (
    select 'cadres' as dataset, count(*) as mart_rows from cadres where on_county_roster
    union all
    select 'households', count(*) from households where household_id <> {{ unknown_key() }}
    union all
    select 'pairings', count(*) from pairings
    union all
    select 'visits', count(*) from visits
    union all
    select 'work_teams', count(*) from work_team_members
    union all
    select 'funding', count(*) from funding
    union all
    select 'projects', count(*) from projects
    union all
    select 'branch_activities', count(*) from branch_activities
    union all
    select 'talks', count(*) from talks
    union all
    select 'matters', count(*) from matters
    union all
    select 'enterprise_links', count(*) from enterprise_links
),

merged_rows as (
    select dataset, count(*) as merged_rows
    from (
        select dataset from merged_duplicates
        union all
        select dataset from rows_from_other_units
    )
    group by dataset
),

rows_not_conserved as (
    select
        'rows_not_conserved' as rule_id,
        'error' as severity,
        raw_rows.dataset,
        raw_rows.dataset as entity,
        cast(null as varchar) as period,
        'raw 行数 ' || cast(raw_rows.raw_rows as varchar)
            || ' ≠ marts 行数 ' || cast(coalesce(mart_rows.mart_rows, 0) as varchar)
            || ' + 合并重复行和退回的他单位行 ' || cast(coalesce(merged_rows.merged_rows, 0) as varchar) as detail,
        cast(null as varchar) as provider,
        cast(null as varchar) as source_file,
        cast(null as varchar) as sheet_name,
        cast(null as integer) as row_number
    from raw_rows
    full outer join mart_rows
        on raw_rows.dataset = mart_rows.dataset
    left join merged_rows
        on raw_rows.dataset = merged_rows.dataset
    where coalesce(raw_rows.raw_rows, 0)
        <> coalesce(mart_rows.mart_rows, 0) + coalesce(merged_rows.merged_rows, 0)
),

dangling_foreign_key as (
    {%- for relation, table_name, key, fk, parent, parent_key, dataset, nullable, has_lineage in foreign_keys %}
    {{ dq_dangling_fk(relation, table_name, key, fk, parent, table_of[parent], parent_key, dataset, nullable, has_lineage) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

-- all rules ------------------------------------------------------------------------------------

unioned as (
    select * from visit_unpaired
    union all
    select * from unknown_cadre
    union all
    select * from unknown_household
    union all
    select * from unknown_village
    union all
    select * from present_exceeds_expected
    union all
    select * from matter_closed_before_raised
    union all
    select * from matter_closed_without_date
    union all
    select * from talk_wrong_leader
    union all
    select * from talk_missing_topics
    union all
    select * from matter_not_decided_at_meeting
    union all
    select * from matter_decided_off_meeting_day
    union all
    select * from funding_over_million
    union all
    select * from duplicate_merged
    union all
    select * from row_from_other_unit
    union all
    select * from fact_key_not_unique
    union all
    select * from rows_not_conserved
    union all
    select * from dangling_foreign_key
),

final as (
    select
        cast(rule_id as varchar) as rule_id,
        cast(severity as varchar) as severity,
        cast(entity as varchar) as entity,
        cast(period as varchar) as period,
        cast(detail as varchar) as detail,
        {{ as_of_date() }} as as_of,
        cast(dataset as varchar) as dataset,
        cast(provider as varchar) as provider,
        cast(source_file as varchar) as source_file,
        cast(sheet_name as varchar) as sheet_name,
        cast(row_number as integer) as row_number
    from unioned
)

select * from final
