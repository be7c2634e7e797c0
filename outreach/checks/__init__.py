"""The publishing gate: every finding (dbt's dq_results, dbt tests, Great Expectations, the
personal-data scan, emptied marts) and the verdict. The expectations themselves are in the
top-level ``expectations/`` folder."""
