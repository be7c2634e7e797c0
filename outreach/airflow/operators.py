"""The DAG's one custom operator: the sensor that claims the build file for its run.

A subclass of the Task SDK's ``BaseSensorOperator`` rather than ``@task.sensor``: the decorator
pulls in the standard provider's PythonSensor (and a deprecation warning) at every DAG parse.
"""

from __future__ import annotations

from airflow.sdk import BaseSensorOperator


class ClaimWarehouse(BaseSensorOperator):
    """Done once this DAG run holds the run lease (``outreach.pipeline.lease``); while another live run
    holds it, waits in ``reschedule`` mode, without taking a worker slot."""

    def poke(self, context) -> bool:
        from outreach.pipeline import stages
        from outreach.settings import load_settings

        return stages.claim(load_settings(), context)
