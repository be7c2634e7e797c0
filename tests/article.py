"""docs/RULES.md's headline table: the article's exact figures for 保亭县, 2012 to mid-2014.

enterprise_problems_solved is not here: the article says "130多件" (130 or more).
"""

ARTICLE = {
    "cadres_talked": 186,
    "opinions_collected": 235,
    "households_visited": 1156,
    "households_paired": 873,
    "funding_yuan": 5170000,
    "cooperatives": 148,
    "practical_matters_done": 718,
    "branch_problems_solved": 127,
    "capacity_projects": 12,
    "members_transformed": 34,
    "branches_upgraded": 7,
    "work_teams": 62,
    "villages_stationed": 62,
    "cadres_stationed": 260,
}
