# The production image: the official Airflow image plus this project, its pinned lock, and its
# DAG. docker-compose.yml builds it once and runs every Airflow service from it.
#
#   docker build -t outreach-warehouse/airflow .
#
# Python packages: `pip install` as the airflow user, as the official image requires (it refuses
# root), into the image's own environment (/home/airflow/.local), so `python`, `airflow` and `dbt`
# share one bin directory (outreach/pipeline/dbt_runner.py runs the `dbt` next to sys.executable).
#   1. requirements.lock, both as the requirements and as the constraints: every package it names
#      is installed at exactly its locked version, the same set `make test` tests. Without the
#      constraint a requirement's own dependencies could float to newer releases; with the lock
#      pinning apache-airflow==3.3.2 pip stops with a conflict instead of quietly upgrading or
#      downgrading the Airflow of the base image. Packages the base image ships that the lock
#      does not name stay as the image has them.
#   2. the project itself with --no-deps, editable: its loose pyproject.toml ranges must not
#      re-resolve anything behind the lock's back, and an editable install keeps the package in
#      /opt/outreach, where outreach/settings.py finds dags/, dbt_project/ and config/ beside it.
FROM apache/airflow:3.3.2-python3.11

# Directories the airflow user (uid 50000, group 0) must own. A named volume mounted on a path
# of the image starts as a copy of it, ownership included: /data/outreach becomes OUTREACH_HOME,
# /opt/airflow/auth holds the API server's password file.
USER root
RUN mkdir -p /opt/outreach /data/outreach /opt/airflow/auth \
    && chown -R airflow:0 /opt/outreach /data/outreach /opt/airflow/auth \
    && chmod 0770 /data/outreach /opt/airflow/auth
USER airflow

WORKDIR /opt/outreach

# Dependencies first: this layer is rebuilt only when the lock changes, not on every code edit.
COPY --chown=airflow:0 pyproject.toml requirements.lock ./
RUN pip install --no-cache-dir --requirement requirements.lock --constraint requirements.lock

COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 dbt_project/ dbt_project/
COPY --chown=airflow:0 ingest/ ingest/
COPY --chown=airflow:0 expectations/ expectations/
COPY --chown=airflow:0 outreach/ outreach/
COPY --chown=airflow:0 config/ config/
RUN pip install --no-cache-dir --no-deps --editable .

# astronomer-cosmos (the DAG's dbt task group) reports usage over HTTP unless told not to; the
# pipeline runs offline. Its "reliable retry" copies every XCom of the dbt build into an Airflow
# Variable for a retry that only restores them; our producer builds again instead
# (outreach/airflow/cosmos_watch.py), so the copies would be writes for nothing.
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/outreach/dags \
    OUTREACH_HOME=/data/outreach \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=False

# The dbt manifest the DAG renders its build group from (one task per model): `dbt parse` into
# /opt/outreach/dbt_project/target/manifest.json, now, so that no Airflow process ever runs dbt
# to parse the DAG. (dbt_project/target is not sent to the build: see .dockerignore.)
RUN python -m outreach.cli dbt-manifest

# Fail the build, not the first night: the installed package (imported from outside the source
# tree, so not through the working directory) must find its project files, dbt must sit next to
# Python, and the DAG file must parse (with the manifest just built, and not stale).
RUN cd / \
    && python -c "import pathlib, sys; from outreach import settings as s; assert s.DAGS_DIR == pathlib.Path('/opt/outreach/dags'), s.DAGS_DIR; assert (s.DBT_PROJECT_DIR / 'dbt_project.yml').is_file(); assert s.DEFAULT_GAZETTEER.is_file(); assert pathlib.Path(sys.executable).with_name('dbt').is_file(), sys.executable" \
    && python /opt/outreach/dags/outreach_nightly.py
