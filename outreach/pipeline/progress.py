"""Progress for people: a live line per stage and file on a terminal, plain lines otherwise.

Airflow redirects a task's ``sys.stderr`` into its log, so progress goes to the process's
original stderr (``sys.__stderr__``): on a terminal as a line that updates in place, elsewhere
as plain timestamped lines. It is also logged, so the Airflow task log has it too.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys

from ingest.discover import printable

log = logging.getLogger("outreach.pipeline.progress")


def _stream():
    return sys.__stderr__ or sys.stderr


def is_terminal() -> bool:
    stream = _stream()
    return bool(stream) and stream.isatty()


def _emit(text: str, live: bool = False, last: bool = True) -> None:
    text = printable(text)  # a file name with a line break must not forge a line
    log.info(text)
    stream = _stream()
    if stream is None:
        return
    if is_terminal():
        end = "\n" if (last or not live) else ""
        stream.write(f"\r\033[K{text[:150]}{end}")
    else:
        stream.write(f"{dt.datetime.now().isoformat(timespec='seconds')} {text}\n")
    stream.flush()


def stage(name: str, message: str) -> None:
    _emit(f"[{name}] {message}")


def file_progress(
    index: int, total: int, rel: str, status: str, loaded: int, quarantined: int
) -> None:
    text = f"[ingest] {index}/{total} {status:<11} {rel} (入库 {loaded} 行, 退回 {quarantined} 行)"
    _emit(text, live=True, last=index == total)
