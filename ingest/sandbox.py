"""Parse untrusted files in worker processes with memory and time limits.

python-calamine aborts the whole process on some hostile files, panics on others (a
``PanicException``, which derives from ``BaseException`` and cannot be pickled), and a file can
be built to eat memory or time. Each file is parsed in a worker (``parse.process_file_safely``)
whose address space is capped; whatever the parse raises becomes the file's quarantine inside the
worker, which sends back only the pickled account (plain data of ours), never an exception. A
file that takes too long has its worker killed; a file whose worker dies is retried alone, and
quarantined if it kills its worker again. Two workers use both cores. The parent never parses:
it only commits what the workers return.

A ``parser_error`` (a bug of the loader's own code, not of the file) is quarantined like the
rest in a night; with ``SandboxLimits(raise_bugs=True)`` (``OUTREACH_PARSER_BUGS=raise``, as the
tests run) it fails the parse loudly instead, naming the file.
"""

from __future__ import annotations

import logging
import pickle
import resource
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.discover import InboxFile, printable
from ingest.guard import DEFAULT_LIMITS, Limits
from ingest.parse import PARSER_ERROR, FileOutcome, failed, process_file_safely
from ingest.pii import mask_text
from ingest.spawning import allow_children, main_module_not_rerun, spawn_context

log = logging.getLogger("outreach.ingest.sandbox")


@dataclass(frozen=True)
class SandboxLimits:
    workers: int = 2
    memory_bytes: int = 3 * 1024**3  # address space of a worker
    seconds_per_file: float = 300.0
    guard: Limits = DEFAULT_LIMITS
    raise_bugs: bool = False  # a parser_error fails the parse (tests) instead of quarantining


class ParserBug(RuntimeError):
    """The loader's own code failed on a file (raised only with ``raise_bugs``). The message
    names the file and the exception; ``worker_traceback`` is where it was raised."""

    def __init__(self, outcome: FileOutcome):
        self.source_file = outcome.file.rel
        self.worker_traceback = outcome.traceback
        shown = mask_text(printable(outcome.file.rel))  # the message goes to reports and mail
        super().__init__(f"the loader failed on {shown}: {outcome.detail}")


def _init_worker(memory_bytes: int, gazetteer_path: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort leaves no core file behind
    # Warm up as soon as the worker starts, before any file arrives: the contract, the gazetteer
    # and zhconv's dictionary (loaded on first use) are the same for every file it will parse.
    # A failure here is left to the first task, which raises it as it always did: an initializer
    # that raises would break the pool, and every file would look like a parser crash.
    try:
        from ingest.places import load_gazetteer
        from ingest.registry import load_registry
        from ingest.text import clean

        load_registry()
        load_gazetteer(Path(gazetteer_path))
        clean("")
    except Exception:  # left to the first task (see above)
        pass


def _ready() -> bool:
    """A no-op task: submitting one per worker starts the workers (the pool starts them lazily)."""
    return True


def _parse(file: InboxFile, gazetteer_path: str, tz_name: str, guard: Limits) -> bytes:
    """Runs in a worker: the file's account, pickled here, so that nothing but our own plain
    data ever travels back (a result the pool failed to pickle would come back as the
    exception it raised). A contract or gazetteer that cannot be loaded is no file's problem:
    its error fails the task, as it would in the parent."""
    from ingest.places import load_gazetteer
    from ingest.registry import load_registry

    registry, gazetteer = load_registry(), load_gazetteer(Path(gazetteer_path))
    outcome = process_file_safely(file, registry, gazetteer, ZoneInfo(tz_name), guard)
    try:
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 (a value in the account that cannot be pickled)
        return pickle.dumps(failed(file, exc), protocol=pickle.HIGHEST_PROTOCOL)


def _failed(file: InboxFile, rule_id: str, message: str) -> FileOutcome:
    return FileOutcome(file, "quarantined", problem=(rule_id, message))


def _received(file: InboxFile, future: Future, raise_bugs: bool) -> FileOutcome:
    """The account a worker sent for ``file``: BrokenProcessPool when the worker died, the
    configuration's error when it could not be loaded."""
    outcome = pickle.loads(future.result())
    if outcome.problem and outcome.problem[0] == PARSER_ERROR:
        log.error(
            "the loader failed on %s: %s\n%s",
            printable(file.rel),
            outcome.detail,
            outcome.traceback,
        )
        if raise_bugs:
            raise ParserBug(outcome)
    return outcome


class Sandbox:
    def __init__(self, gazetteer_path: Path, tz: ZoneInfo, limits: SandboxLimits = SandboxLimits()):
        self.args = (str(gazetteer_path), str(tz))
        self.limits = limits
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        allow_children()
        return ProcessPoolExecutor(
            max_workers=self.limits.workers,
            mp_context=spawn_context(),
            initializer=_init_worker,
            initargs=(self.limits.memory_bytes, self.args[0]),
        )

    def start(self) -> None:
        """Start the workers now, so that they start up while the caller does other work (the
        first ``parse`` would otherwise start them and wait)."""
        if self._pool is None:
            self._pool = self._new_pool()
            with main_module_not_rerun():
                for _ in range(self.limits.workers):
                    self._pool.submit(_ready)

    def _kill_pool(self) -> None:
        if self._pool is None:
            return
        for proc in list(getattr(self._pool, "_processes", {}).values()):
            proc.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self._kill_pool() if exc[0] else self.close()

    def parse(self, files: Iterable[InboxFile]) -> Iterator[FileOutcome]:
        """Outcomes in completion order, one per file, whatever the files do to their workers.

        The biggest files go first (two workers finish together more often), and a worker gets
        its next file before the caller sees the last one's outcome: the caller commits it while
        the workers go on parsing.
        """
        queue = sorted(files, key=lambda f: f.size)  # popped from the end: biggest first
        suspects: list[InboxFile] = []  # in flight when a worker died: retried one at a time
        running: dict[Future, tuple[InboxFile, float]] = {}
        isolated = False  # the file running is a suspect, alone: if its worker dies, it did it

        def fill() -> bool:
            """Submit files up to capacity; False when the pool broke before anything ran."""
            nonlocal isolated
            if self._pool is None:
                self._pool = self._new_pool()
            alone = bool(suspects)
            capacity = 1 if alone else self.limits.workers
            while len(running) < capacity and (suspects or queue):
                isolated = alone
                file = suspects.pop() if alone else queue.pop()
                try:
                    with main_module_not_rerun():  # a worker may be spawned on submit
                        future = self._pool.submit(_parse, file, *self.args, self.limits.guard)
                except BrokenProcessPool:  # a worker died before we looked: isolate everyone
                    (suspects if alone else queue).append(file)
                    break
                running[future] = (file, time.monotonic())
            return bool(running)

        while queue or suspects or running:
            if not fill():  # the pool broke before anything ran: start again
                self._kill_pool()
                continue
            oldest = min(start for _, start in running.values())
            timeout = max(0.0, oldest + self.limits.seconds_per_file - time.monotonic())
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            if not done:  # the oldest file ran out of time: kill the pool, requeue the others
                late = min(running, key=lambda f: running[f][1])
                late_file = running.pop(late)[0]
                log.warning("parsing %s took too long; worker killed", printable(late_file.rel))
                queue.extend(file for file, _ in running.values())
                running.clear()
                self._kill_pool()
                yield _failed(
                    late_file,
                    "parser_timeout",
                    f"文件在 {self.limits.seconds_per_file:.0f} 秒内未能读完，已停止读取；请检查是否有异常多的行列或公式",
                )
                continue
            outcomes: list[FileOutcome] = []
            broken: list[InboxFile] = []
            for future in done:
                file, _ = running.pop(future)
                try:
                    outcomes.append(_received(file, future, self.limits.raise_bugs))
                except BrokenProcessPool:
                    broken.append(file)
            if broken:
                # every future of a broken pool fails; the culprit is among these and the rest
                broken += [file for file, _ in running.values()]
                running.clear()
                self._kill_pool()
                if isolated:
                    for file in broken:
                        log.warning("parser crashed on %s", printable(file.rel))
                        outcomes.append(
                            _failed(
                                file,
                                "parser_crashed",
                                "读取该文件时解析程序崩溃，文件结构异常；请用 Excel 打开后另存为新的 .xlsx 再报送",
                            )
                        )
                else:
                    suspects.extend(broken)
            elif queue or suspects:
                fill()  # the workers go on while the caller handles these outcomes
            yield from outcomes
        self.close()
