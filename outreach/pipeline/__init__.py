"""The night's stages with no Airflow in them: what one run knows (context), the lease that gives
one run the build file, ingest and build state, dbt runs, the publish step and its Chinese views,
progress lines and timings, and the rotation of the PII key. The DAG's tasks and ``outreach run``
call ``pipeline.stages``."""
