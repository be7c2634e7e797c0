"""Progress for people: a live line per stage and file on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("outreach")


def is_terminal() -> bool:
    return sys.stderr.isatty()


def stage(name: str, message: str) -> None:
    text = f"[{name}] {message}"
    if is_terminal():
        print(f"\r\033[K{text}", file=sys.stderr, flush=True)
    else:
        log.info(text)


def file_progress(
    index: int, total: int, rel: str, status: str, loaded: int, quarantined: int
) -> None:
    text = f"[ingest] {index}/{total} {status:<11} {rel} (入库 {loaded} 行, 退回 {quarantined} 行)"
    if is_terminal():
        end = "\n" if index == total else ""
        print(f"\r\033[K{text[:160]}", end=end, file=sys.stderr, flush=True)
    else:
        log.info(text)
