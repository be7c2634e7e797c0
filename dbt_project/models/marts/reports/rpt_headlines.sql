-- The headline figures as people are shown them: one row per metric of program_headlines, with
-- its Chinese label, its kind (how to print it), and the seed article's figure for 保亭县,
-- 2012 to mid-2014, where the article gives one (docs/RULES.md, "Headline figures"). The
-- dashboard, the quarterly report and the run report print these rows; they define nothing.
with shown (metric, label, kind, article_value, article_text, article_at_least) as (
    values
        ('cadres_talked', '约谈干部（人）', 'count', 186, '186人', false),
        ('opinions_collected', '收集意见建议（条）', 'count', 235, '235条', false),
        ('households_visited', '走访农户（户）', 'count', 1156, '1156户', false),
        ('households_paired', '结对帮扶农户（户）', 'count', 873, '873户', false),
        ('funding_yuan', '筹措资金（元）', 'money', 5170000, '517万元', false),
        ('cooperatives', '专业合作社（个）', 'count', 148, '148个', false),
        ('practical_matters_done', '办结实事（件）', 'count', 718, '718件', false),
        ('enterprise_problems_solved', '解决企业诉求（件）', 'count', 130, '130多件', true),
        ('branch_problems_solved', '解决支部难题（件）', 'count', 127, '127件', false),
        ('capacity_projects', '造血型项目（个）', 'count', 12, '12个', false),
        ('members_transformed', '转化后进党员（人）', 'count', 34, '34名', false),
        ('branches_upgraded', '晋位升级支部（个）', 'count', 7, '7个', false),
        ('work_teams', '驻村工作队（支）', 'count', 62, '62支', false),
        ('villages_stationed', '驻村覆盖行政村（个）', 'count', 62, '62个', false),
        ('cadres_stationed', '驻村干部（人）', 'count', 260, '260名', false),
        ('quarterly_visit_rate', '季度走访完成率', 'rate', null, null, null)
),

final as (
    select
        headlines.metric,
        headlines.metric_order,
        shown.label,
        shown.kind,
        headlines.value,
        headlines.as_of,
        cast(shown.article_value as bigint) as article_value,
        shown.article_text,
        shown.article_at_least,
        case
            when shown.article_value is null then null
            when shown.article_at_least then headlines.value >= shown.article_value
            else headlines.value = shown.article_value
        end as matches_article
    from {{ ref('program_headlines') }} as headlines
    left join shown using (metric)
)

select * from final
