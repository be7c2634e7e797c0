"""Test-wide setup: Airflow must never touch ~/airflow or a developer's settings."""

import os
import tempfile

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="outreach-test-airflow-")
for key in [k for k in os.environ if k.startswith(("AIRFLOW__", "OUTREACH_"))]:
    del os.environ[key]
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
