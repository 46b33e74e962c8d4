"""What every benchmark shares: pairwise metrics, the isolated runner and the JSON output.

Metrics are computed from cluster labels, never by enumerating pairs: a group of ``k``
records holds ``k * (k - 1) / 2`` pairs, so true pairs come from the sizes of the true
groups, predicted pairs from the sizes of the predicted clusters and true positives from the
sizes of their intersections.

Each engine's job runs in a fresh ``spawn`` child process. Its wall time and peak resident
memory are measured inside that child (``Meter``), so a run never inherits another engine's
heap, imports or peak. The peak is the child's own high-water mark (``VmHWM``), not the
parent's ``RUSAGE_CHILDREN``, which is the largest peak of *all* children waited for so far
(after a 4 GB Splink run every later child would report 4 GB), and not the child's
``ru_maxrss``, which Linux carries across ``execve`` from the parent's resident size.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

IntArray = npt.NDArray[np.int64]
Record = dict[str, Any]
# Cluster or entity labels, one per record: any hashable values (numbers, strings).
Labels = npt.ArrayLike | Sequence[object] | pd.Series


class BenchmarkError(RuntimeError):
    """A job failed in its child process; the message holds the child's traceback."""


# ---- pairwise metrics -------------------------------------------------------------------------


@dataclass(frozen=True)
class PairScores:
    """Pairwise precision, recall and F1 of a clustering against the truth."""

    true_pairs: int
    predicted_pairs: int
    true_positives: int
    precision: float
    recall: float
    f1: float

    def as_dict(self, prefix: str = "") -> Record:
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}


def pair_count(sizes: npt.ArrayLike) -> int:
    """Pairs within groups of the given sizes: the sum of ``k * (k - 1) / 2``."""
    array = np.asarray(sizes, dtype=np.int64)
    return int((array * (array - 1) // 2).sum())


def label_codes(labels: Labels) -> IntArray:
    """Dense integer codes ``0..k-1`` of any hashable labels; missing labels are an error."""
    codes, _ = pd.factorize(pd.Series(np.asarray(labels, dtype=object)), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    if (codes < 0).any():
        raise ValueError("labels must not be missing: give every record a cluster of its own")
    return codes


def pairwise_scores(predicted: Labels, truth: Labels) -> PairScores:
    """Score predicted cluster labels against true entity labels, one label per record.

    With no predicted pairs precision is 1.0 (nothing claimed, nothing wrong); with no true
    pairs recall is 1.0. F1 is 0.0 when precision and recall are both 0.
    """
    p = label_codes(predicted)
    t = label_codes(truth)
    if len(p) != len(t):
        raise ValueError(f"{len(p)} predicted labels for {len(t)} true labels")
    predicted_pairs = pair_count(np.bincount(p))
    true_pairs = pair_count(np.bincount(t))
    width = int(t.max()) + 1 if len(t) else 1
    _, both = np.unique(p * width + t, return_counts=True)
    true_positives = pair_count(both)
    precision = true_positives / predicted_pairs if predicted_pairs else 1.0
    recall = true_positives / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(true_pairs, predicted_pairs, true_positives, precision, recall, f1)


def blocking_recall(left: npt.ArrayLike, right: npt.ArrayLike, truth: Labels) -> float:
    """Share of the true pairs that are among the candidate pairs ``(left[i], right[i])``.

    ``left`` and ``right`` are row positions; each unordered pair must appear once.
    """
    t = label_codes(truth)
    left_rows = np.asarray(left, dtype=np.int64)
    right_rows = np.asarray(right, dtype=np.int64)
    true_pairs = pair_count(np.bincount(t))
    found = int(np.count_nonzero(t[left_rows] == t[right_rows]))
    return found / true_pairs if true_pairs else 1.0


def labels_from_edges(n: int, left: npt.ArrayLike, right: npt.ArrayLike) -> IntArray:
    """Connected components of ``n`` rows joined by the edges: one label per row."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    left_rows = np.asarray(left, dtype=np.int64)
    right_rows = np.asarray(right, dtype=np.int64)
    graph = coo_array(
        (np.ones(len(left_rows), dtype=np.int8), (left_rows, right_rows)), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


# ---- measuring one job in its own process ------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program, in MiB.

    On Linux ``VmHWM`` of ``/proc/self/status``: the high-water mark of the current address
    space. Not ``ru_maxrss``: Linux keeps that across ``execve``, so a spawned child would
    start with its parent's resident size as its "peak" (a parent holding a 1 GB frame gives
    every child a 1 GB floor). Elsewhere ``ru_maxrss`` is the best there is.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes / KiB


class Meter:
    """Wall seconds and peak resident memory of the work between ``Meter()`` and ``stop()``.

    Create it after the job's inputs are loaded: ``input_mb`` is the process's peak by then
    (interpreter, imports, input data), ``peak_mb`` its peak when the work is done.
    """

    def __init__(self) -> None:
        self.input_mb = peak_rss_mb()
        self._start = time.perf_counter()

    def stop(self) -> Record:
        seconds = time.perf_counter() - self._start
        return {
            "seconds": round(seconds, 3),
            "peak_mb": round(peak_rss_mb(), 1),
            "input_mb": round(self.input_mb, 1),
        }


def baseline_job() -> Record:
    """An empty job: what every measurement includes (interpreter, numpy, pandas)."""
    return Meter().stop()


def _child(sender: Any, job: Callable[..., Record], args: Sequence[Any]) -> None:
    # Whatever a library prints goes to stderr: stdout carries only the benchmark's JSON lines.
    sys.stdout.flush()
    os.dup2(2, 1)
    try:
        sender.send(("ok", job(*args)))
    except BaseException:
        sender.send(("error", traceback.format_exc()))
    finally:
        sender.close()


def run_isolated(job: Callable[..., Record], *args: Any) -> Record:
    """Run ``job(*args)`` in a fresh spawned process and return its result.

    ``job`` must be a module-level function (it is imported by the child) returning a
    picklable dict; it should measure its own work with ``Meter``.
    """
    load = os.getloadavg()[0]  # other work on the machine makes the seconds noisier
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, job, args))
    process.start()
    sender.close()
    try:
        status, payload = receiver.recv()
    except EOFError:
        process.join()
        raise BenchmarkError(
            f"{job.__name__} died without a result (exit code {process.exitcode}; "
            "a negative code is the signal, -9 is usually the kernel's out-of-memory killer)"
        ) from None
    finally:
        receiver.close()
    process.join()
    if status != "ok":
        raise BenchmarkError(f"{job.__name__} failed:\n{payload}")
    result: Record = {**payload, "load_before": round(load, 2)}
    return result


# ---- output ---------------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress for people, on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(record: Record) -> None:
    """One benchmark result: one JSON line on stdout."""
    print(json.dumps(record, default=_json_default), flush=True)


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def rounded(record: Record, digits: int = 6) -> Record:
    """Floats rounded for reading; everything else as given."""
    return {
        key: round(value, digits) if isinstance(value, float) else value
        for key, value in record.items()
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def engine_digest() -> str:
    """A short hash of mdm's matching code and default match rules as they are on disk.

    Figures from uncommitted work can still be traced to the exact engine that made them.
    """
    digest = hashlib.sha256()
    for folder in (ROOT / "mdm" / "matching", ROOT / "mdm" / "rules" / "match"):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".toml", ".json"):
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def provenance() -> Record:
    """Where figures came from: the commit, whether mdm/ had local changes, the machine."""
    dirty = bool(_git("status", "--porcelain", "--", "mdm"))
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "commit": _git("rev-parse", "--short=10", "HEAD"),
        "mdm_dirty": dirty,
        "engine_digest": engine_digest(),
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
    }
