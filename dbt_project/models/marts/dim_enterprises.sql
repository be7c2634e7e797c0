with

links as (
    select * from {{ ref('int_enterprise_links_deduped') }}
),

final as (
    select
        {{ surrogate_key(['enterprise_name']) }} as enterprise_id,
        enterprise_name,
        first(credit_code order by linked_on desc, credit_code)
            filter (where credit_code is not null) as credit_code,
        first(enterprise_branch order by linked_on desc, enterprise_branch)
            filter (where enterprise_branch is not null) as enterprise_branch,
        min(linked_on) as first_linked_on,
        count(distinct village_name) as linked_village_count
    from links
    group by enterprise_name
)

select * from final
