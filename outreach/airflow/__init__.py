"""Airflow glue: the embedded runner (``outreach run``), the DAG's operator and dbt task group,
the watch over cosmos' model tasks, and the failure and deadline mail. The stages themselves
live in ``outreach.pipeline`` and import nothing from Airflow."""
