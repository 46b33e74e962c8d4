"""Named points in a run where the crash-safety tests kill the process.

A run, an export or a steward action passes these points in order. With ``MDM_KILL_AT=NAME``
set, the process kills itself with SIGKILL the first time it reaches the point NAME (no
cleanup, no ``finally``: exactly what a power cut or the OOM killer does); with
``MDM_STOP_AT=NAME`` it stops itself there with SIGSTOP (as Ctrl-Z would) until sent SIGCONT,
so a test can act while the run holds its locks; with
``MDM_FAILPOINT_LOG=FILE`` set, it appends the name of every point it reaches to FILE, so a
test can list the points of a run and then kill at each. Unset, a point costs one lookup.
"""

from __future__ import annotations

import os
import signal

KILL_VARIABLE = "MDM_KILL_AT"
STOP_VARIABLE = "MDM_STOP_AT"
LOG_VARIABLE = "MDM_FAILPOINT_LOG"


def reached(name: str) -> None:
    """Mark the point ``name``; die here if the environment asks for it."""
    log = os.environ.get(LOG_VARIABLE)
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(name + "\n")
    if os.environ.get(KILL_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(STOP_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGSTOP)
