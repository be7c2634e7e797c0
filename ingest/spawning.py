"""Spawned worker processes that start the same under the CLI, pytest, Airflow and Celery.

Every process pool of the project (the parse sandbox, the scaled demo generator) uses the
``spawn`` start method (a forked DuckDB or Airflow process is not safe to copy) and these two
helpers.
"""

from __future__ import annotations

import multiprocessing
import sys
from contextlib import contextmanager


def spawn_context():
    """The multiprocessing context of our pools."""
    return multiprocessing.get_context("spawn")


def allow_children() -> None:
    """Let this process start worker processes even when it is marked daemonic.

    Under the CeleryExecutor a task runs in a process forked from Celery's prefork pool (billiard),
    which multiprocessing regards as a daemon, and a daemon may not start children ("daemonic processes
    are not allowed to have children"). The rule exists so that a daemon's children are not left
    behind when it is terminated; our pools never leave their workers behind (they are shut
    down or killed on every way out), so the flag is lifted for this process.
    """
    current = multiprocessing.current_process()
    if current.daemon:
        current._config["daemon"] = False  # the public setter refuses on a started process
    # Celery's billiard stands in its own process object, whose authentication key the standard
    # library refuses to pickle for a spawned child: hand it the same key as the standard type.
    standard = multiprocessing.process.AuthenticationString
    if type(current.authkey) is not standard:
        current._config["authkey"] = standard(bytes(current.authkey))


@contextmanager
def main_module_not_rerun():
    """Spawn workers without running the parent's ``__main__`` again in them.

    A spawned child normally re-imports the parent's main module (as ``__mp_main__``). Under
    Airflow that is the ``airflow`` command, whose import needs the metadata database, which a
    task process is not given: every worker died before parsing anything. Under pytest it can be
    whatever script ran last as ``__main__`` (Streamlit's AppTest runs the dashboard so). Our
    workers need only modules they import by name, so the main module is hidden while they
    start: wrap every ``submit`` (a pool may spawn a worker on any of them).
    """
    main = sys.modules["__main__"]
    saved = {
        name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__
    }
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)
