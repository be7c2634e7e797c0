-- One row per talk: the leader the cadre's rank requires (the roster's rank, else the rank the
-- talk's row gives) and the topics of the six (六必谈) it covered and left out.
with

talks as (
    select * from {{ ref('fct_talks') }}
),

cadres as (
    select * from {{ ref('dim_cadres') }}
),

final as (
    select
        talks.talk_id,
        talks.talk_date,
        talks.cadre_code,
        talks.interviewer_role,
        coalesce(cadres.rank, talks.rank) as cadre_rank,
        {{ required_interviewer_role('coalesce(cadres.rank, talks.rank)') }} as required_role,
        {%- for column, _ in talk_topics() %}
        cast(coalesce(talks.{{ column }}, false) as integer){{ ' +' if not loop.last }}
        {%- endfor %} as topics_covered,
        concat_ws(
            '、'
            {%- for column, label in talk_topics() %},
            case when not coalesce(talks.{{ column }}, false) then '{{ label }}' end
            {%- endfor %}
        ) as topics_missing,
        talks.provider,
        talks.source_file,
        talks.sheet_name,
        talks.row_number
    from talks
    left join cadres
        on talks.cadre_id = cadres.cadre_id
        and cadres.cadre_id <> {{ unknown_key() }}
)

select * from final
