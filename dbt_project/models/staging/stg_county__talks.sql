with

source as (
    select * from {{ source('raw', 'talks') }}
),

final as (
    select
        cast(talk_date as date) as talk_date,
        {{ scrub_pii('interviewer') }} as interviewer,
        interviewer_role,
        {{ clean_code('cadre_code') }} as cadre_code,
        {{ scrub_pii('cadre_name') }} as cadre_name,
        rank,
        cast(topic_family as boolean) as topic_family,
        cast(topic_health as boolean) as topic_health,
        cast(topic_work as boolean) as topic_work,
        cast(topic_team as boolean) as topic_team,
        cast(topic_opinions as boolean) as topic_opinions,
        cast(topic_other as boolean) as topic_other,
        cast(opinion_count as integer) as opinion_count,
        {{ scrub_pii('opinions') }} as opinions,
        {{ lineage_columns() }}
    from source
)

select * from final
