"""Standardizing many distinct values on every core the machine gives the run.

Standardizing is pure Python per distinct value (reading one phone number costs about 30 µs),
so a long list of values is split between this process and worker processes; a short one
stays here, where sending values away would cost more than it saves. Results come back in the
order of the values, so the outcome is the same however many workers there are.

A worker is a fresh interpreter running ``mdm.standardize.worker``, started on the first long
list and ended when this process ends (it reads requests from a pipe: when the pipe closes, it
exits). Nothing of this process (its threads, its open store, its main script) is inherited.
``MDM_WORKERS`` sets how many there are: by default one fewer than the cores this process may
use; ``0`` keeps all the work here. A worker that fails is not used again: its share is done
here, so a run never depends on one.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

R = TypeVar("R")
Arguments = Sequence[tuple[str, str | None]]

WORKERS_VARIABLE = "MDM_WORKERS"
# Distinct values from which a list is shared with the workers: below, sending them costs more
# than the work they save.
PARALLEL_FROM = 5_000
_HEADER = 8  # bytes of a frame's length


def map_values(fn: Callable[[str, str | None], R], arguments: Arguments) -> list[R]:
    """``fn(text, region)`` of each argument, in order, shared with the worker processes when
    the list is long. ``fn`` must be picklable (a module-level function or a small object)."""
    workers = _workers() if len(arguments) >= PARALLEL_FROM else []
    if not workers:
        return apply(fn, arguments)
    parts = _split(arguments, len(workers) + 1)
    sent = [
        worker for worker, part in zip(workers, parts[1:], strict=False) if worker.send(fn, part)
    ]
    results = apply(fn, parts[0])
    for worker, part in zip(workers, parts[1:], strict=False):
        answer = worker.receive() if worker in sent else None
        results.extend(apply(fn, part) if answer is None else answer)
    return results


def apply(fn: Callable[[str, str | None], R], arguments: Arguments) -> list[R]:
    return [fn(text, region) for text, region in arguments]


def worker_count() -> int:
    """How many worker processes long lists are shared with (0: none)."""
    configured = os.environ.get(WORKERS_VARIABLE, "").strip()
    if configured:
        try:
            return max(0, int(configured))
        except ValueError:
            return 0
    return max(0, len(os.sched_getaffinity(0)) - 1)


def _split(arguments: Arguments, parts: int) -> list[Arguments]:
    size = -(-len(arguments) // parts)
    return [arguments[start : start + size] for start in range(0, len(arguments), size)]


class _Worker:
    """One worker process and its pipes; ``failed`` once it did not answer."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # where this mdm is imported from
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mdm.standardize.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path, WORKERS_VARIABLE: "0"},
        )
        self.failed = False

    def send(self, fn: Callable[[str, str | None], Any], arguments: Arguments) -> bool:
        try:
            write_frame(_pipe(self.process.stdin), (fn, list(arguments)))
        except (OSError, pickle.PicklingError, AttributeError, TypeError):
            self._fail()
        return not self.failed

    def _fail(self) -> None:
        self.failed = True
        self.stop()

    def stop(self) -> None:
        """Close its pipes (it exits when its input closes) and wait for it a moment."""
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def receive(self) -> list[Any] | None:
        try:
            ok, answer = read_frame(_pipe(self.process.stdout))
        except (OSError, EOFError, pickle.UnpicklingError):
            ok, answer = False, None
        if not ok:
            self._fail()
            return None
        return list(answer)


_pool: list[_Worker] = []


def _workers() -> list[_Worker]:
    """The live workers, started on first use."""
    global _pool
    if not _pool:
        try:
            _pool = [_Worker() for _ in range(worker_count())]
        except OSError:
            _pool = []
        atexit.register(_stop_all)
    _pool = [worker for worker in _pool if not worker.failed]
    return _pool


def _stop_all() -> None:
    for worker in _pool:
        worker.stop()


def _pipe(stream: IO[bytes] | None) -> IO[bytes]:
    if stream is None:
        raise OSError("the worker has no pipe")
    return stream


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(stream, len(data).to_bytes(_HEADER, "little"))
    _write_all(stream, data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    size = int.from_bytes(_read_exactly(stream, _HEADER), "little")
    return pickle.loads(_read_exactly(stream, size))


def _write_all(stream: IO[bytes], data: bytes) -> None:
    """Write every byte. Unbuffered (``PYTHONUNBUFFERED``, ``python -u``) a worker's output is
    the pipe itself, and a signal (a stop and continue) while the pipe is full ends a write
    short: what is left is written again."""
    view = memoryview(data)
    while view:
        written = stream.write(view)
        view = view[written if written is not None else 0 :]


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes, over as many reads as the stream needs; EOFError if it closes first."""
    parts, missing = [], size
    while missing:
        part = stream.read(missing)
        if not part:
            raise EOFError("the pipe closed")
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)
