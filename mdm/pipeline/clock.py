"""Seconds and peak memory per stage of a run: kept in the run's record, logged as they end.

A stage's seconds are its own: a stage inside another (standardizing inside ingesting) is
taken out of the outer one, so the stages of a run add up to the run. A stage entered again
(``ingest`` once per source) adds up in the record and gets a log line each time. Peak memory
is the process's peak resident size when the stage ended: it only grows, so the stage where it
jumps is the one that needed the memory.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mdm.log import logger

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no getrusage
    resource = None  # type: ignore[assignment]

MEGABYTE = 1024 * 1024
# A stage at least this long hands the memory it freed back before the next one starts
# (``release_memory``); a quick stage leaves little, and collecting costs milliseconds.
RELEASE_AFTER_SECONDS = 1.0


STATUS = Path("/proc/self/status")


def peak_mb() -> float:
    """The peak resident memory of this process so far, in MB (0 where it cannot be known)."""
    # Linux keeps ru_maxrss across exec: a process started by a large one would report the
    # starter's peak. The kernel's VmHWM belongs to this program's own memory.
    hwm = _status_kilobytes("VmHWM")
    if hwm is not None:
        return round(hwm * 1024 / MEGABYTE, 1)
    if resource is None:  # pragma: no cover
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    unit = 1 if sys.platform == "darwin" else 1024
    return round(peak * unit / MEGABYTE, 1)


def release_memory() -> None:
    """Collect unreachable cycles and give the C heap's free pages back to the system.

    glibc keeps the pages a freed array leaves in the middle of its heap; the next stage's
    arrays then take new pages beside them. At a million records the contact stages peaked
    about 1.8 GB higher without this.

    Only the young generations are collected: a stage's cycles (a frame and its views) die
    young, and a 300k-record run found the same objects so, in 0.3 s in all against 4.3 s for
    full collections, which walk every container the run keeps alive."""
    gc.collect(1)
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None on other C libraries (musl, macOS), which have none."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):
        return None
    return trim


_MALLOC_TRIM = _malloc_trim()


def _status_kilobytes(field: str) -> int | None:
    try:
        lines = STATUS.read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    return None


@dataclass(frozen=True)
class StageTiming:
    stage: str
    seconds: float
    peak_mb: float


@dataclass
class Stage:
    """A stage being timed: ``counts`` (what it did, such as "1,204 records") goes into its
    log line."""

    name: str
    subject: str | None = None
    counts: str = ""


class RunClock:
    """The stages of one run, in the order they first ran."""

    def __init__(self, timer: Callable[[], float] = time.perf_counter) -> None:
        self._timer = timer
        self._timings: dict[str, StageTiming] = {}
        self._nested: list[float] = []  # per open stage: seconds of the stages inside it

    @contextmanager
    def stage(self, name: str, subject: str | None = None) -> Iterator[Stage]:
        """Time the block as stage ``name`` (``subject``: what it worked on, for the log line,
        such as a source's name)."""
        stage = Stage(name, subject)
        self._timings.setdefault(name, StageTiming(name, 0.0, 0.0))  # listed in starting order
        started = self._timer()
        self._nested.append(0.0)
        try:
            yield stage
        finally:
            inner = self._nested.pop()
        elapsed = self._timer() - started
        if elapsed >= RELEASE_AFTER_SECONDS:
            release_memory()  # counted in the stage that left the memory behind
            elapsed = self._timer() - started
        if self._nested:
            self._nested[-1] += elapsed
        self._add(name, elapsed - inner)
        label = name if subject is None else f"{name} {subject}"
        if stage.counts:
            logger.info("%s: %s in %.2f s", label, stage.counts, elapsed)
        else:
            logger.info("%s in %.2f s", label, elapsed)

    def _add(self, name: str, seconds: float) -> None:
        total = seconds + self._timings[name].seconds
        self._timings[name] = StageTiming(name, round(total, 3), peak_mb())

    @property
    def timings(self) -> list[StageTiming]:
        return list(self._timings.values())


def counted(number: int, noun: str) -> str:
    """``1,204 records``; ``1 record``."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
