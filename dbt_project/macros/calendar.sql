{#- The programme's calendar (docs/RULES.md, "The programme's calendar"). -#}

{#- The 一月一议 meeting of the month of date_expr: that month's last Friday. -#}
{% macro meeting_day(date_expr) -%}
    (last_day({{ date_expr }}) - cast((dayofweek(last_day({{ date_expr }})) + 2) % 7 as integer))
{%- endmacro %}

{#- The meeting a matter raised on raised_expr is due at: the meeting of its month, or the next
    month's when it was raised after that month's meeting (a matter raised on the meeting day is
    due that day). -#}
{% macro due_meeting(raised_expr) -%}
    case
        when {{ raised_expr }} <= {{ meeting_day(raised_expr) }} then {{ meeting_day(raised_expr) }}
        else {{ meeting_day('(' ~ raised_expr ~ ' + interval 1 month)') }}
    end
{%- endmacro %}

{#- The leader who must hold a cadre's annual talk, by the cadre's rank: 正科 the 组织部长, 副科 a
    副部长, 一般干部 the 干部科长; null for a cadre of no rank (who owes no annual talk). -#}
{% macro required_interviewer_role(rank_expr) -%}
    case {{ rank_expr }}
        when '正科' then '组织部长'
        when '副科' then '副部长'
        when '一般干部' then '干部科长'
    end
{%- endmacro %}

{#- The six topics every talk must cover (六必谈): (column, its Chinese name). -#}
{% macro talk_topics() -%}
    {{ return([
        ('topic_family', '家庭情况'),
        ('topic_health', '身体健康'),
        ('topic_work', '工作表现'),
        ('topic_team', '班子运行'),
        ('topic_opinions', '意见建议'),
        ('topic_other', '其他'),
    ]) }}
{%- endmacro %}
