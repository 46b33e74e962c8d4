"""The second process of a split export (``mdm.publish.split``): writes the later rows of
lineage into a part file and prints the part's anchors as JSON.

    python -m mdm.publish.part_writer STORE_URL PART_PATH BOUNDARY CHUNK_ROWS PARENT_PID
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from mdm.publish.export import ExportFormat, ExportOptions, write_table
from mdm.publish.patch import thinned
from mdm.publish.split import SPLIT_TABLE, later_rows
from mdm.publish.tables import export_tables
from mdm.store import open_store

PR_SET_PDEATHSIG = 1


def main(arguments: Sequence[str]) -> int:
    """Write lineage's rows from the golden id ``boundary`` on into ``path`` (no header);
    print the part's anchors (JSON)."""
    store_url, path, boundary, chunk_rows, parent = arguments
    _die_with_parent(int(parent))
    store = open_store(store_url)
    try:
        with store.transaction() as connection:
            split = next(t for t in export_tables(connection) if t.name == SPLIT_TABLE)
            anchors = write_table(
                connection,
                later_rows(split, boundary),
                Path(path),
                ExportFormat.CSV,
                int(chunk_rows),
                ExportOptions(),
                header=False,
            )
    finally:
        store.close()
    print(json.dumps(thinned(anchors or [])))
    return 0


def _die_with_parent(parent: int) -> None:
    """On Linux this process is killed when the one that started it ends (a killed export
    leaves nothing running); if that one has ended already, exit now."""
    # Not on Linux: the part is written, and a failed export's staging folder deleted later.
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        sys.exit(3)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
