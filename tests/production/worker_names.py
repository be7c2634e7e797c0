"""``[core] hostname_callable`` for the production-mode test: each Celery worker started by the
test records its own name on the task instances it runs, so the test can tell them apart on one
machine (in docker-compose each worker container has its own host name)."""

import os
import socket


def worker_name() -> str:
    return os.environ.get("OUTREACH_TEST_WORKER_NAME") or socket.getfqdn()
