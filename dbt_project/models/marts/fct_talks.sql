-- One row per talk (talk_date, cadre_code).
with

talks as (
    select * from {{ ref('int_talks_deduped') }}
),

cadres as (
    select * from {{ ref('dim_cadres') }}
),

final as (
    select
        {{ surrogate_key(qualified(natural_key('talks'), 'talks')) }} as talk_id,
        talks.talk_date,
        cast(year(talks.talk_date) as integer) as talk_year,
        talks.cadre_code,
        coalesce(cadres.cadre_id, {{ unknown_key() }}) as cadre_id,
        talks.cadre_name,
        talks.rank,
        talks.interviewer,
        talks.interviewer_role,
        talks.opinion_count,
        talks.topic_family,
        talks.topic_health,
        talks.topic_work,
        talks.topic_team,
        talks.topic_opinions,
        talks.topic_other,
        talks.opinions,
        talks.provider,
        talks.source_file,
        talks.sheet_name,
        talks.row_number
    from talks
    left join cadres
        on talks.cadre_code = cadres.cadre_code
        and cadres.cadre_id <> {{ unknown_key() }}
)

select * from final
