"""Replace an export folder whole: readers and crashes see the old export or the new, never a mix.

The files are written into a staging folder beside the target (same filesystem, so renames are
atomic), then the two folders are exchanged in one step (Linux ``renameat2``), and the old one
deleted. Where folders cannot be exchanged, the target is renamed aside and the staging folder
renamed into its place: a process killed between the two leaves the previous export under its
aside name, and the next export puts it back before it starts. Either way the next export
deletes whatever staging folders a killed one left.

A folder is only ever replaced if mdm wrote it: absent, empty, or holding nothing but an
export's files and its marker. Anything else is the user's, and the export is refused.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mdm import failpoints
from mdm.errors import MdmError, Reason

MARKER = ".mdm-export"
STAGING = ".mdm-new-"  # a staging folder: ".exports.mdm-new-k3j9x2"
ASIDE = ".mdm-old-"  # the previous export during a swap: ".exports.mdm-old-k3j9x2"
AT_FDCWD = -100  # renameat2: paths relative to the working folder
RENAME_EXCHANGE = 2
# What an export without a marker (written before markers existed) holds.
LEGACY_FILES = {
    f"{table}.{suffix}"
    for table in ("accounts", "contacts", "xref", "lineage")
    for suffix in ("csv", "parquet")
}


def replace_folder(
    target: Path, write: Callable[[Path], list[str]], marker: dict[str, Any]
) -> None:
    """Fill a new folder with ``write`` (which returns the names it wrote) and put it at ``target``.

    ``marker`` is recorded in the folder's marker file, with the names of the files written.
    """
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    with _locked(parent):
        _recover(target)
        _check_replaceable(target)
        staging = _new_staging(target)
        try:
            files = write(staging)
            _write_marker(staging, {**marker, "files": sorted(files)})
            failpoints.reached("export.swap.begin")
            _swap(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    failpoints.reached("export.swap.done")


def _new_staging(target: Path) -> Path:
    """An empty folder beside ``target``, with the permissions ``target`` has (or the umask's)."""
    staging = target.parent / f".{target.name}{STAGING}{secrets.token_hex(6)}"
    staging.mkdir()
    if target.is_dir():
        staging.chmod(target.stat().st_mode & 0o7777)
    return staging


def sync_file(path: Path) -> None:
    """Flush a written file to disk, so a power cut cannot leave it empty behind the rename."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def _locked(parent: Path) -> Iterator[None]:
    """One export at a time into a folder's parent: a second waits (the OS frees the lock of a
    killed process), so one export's recovery never deletes another's staging folder."""
    handle = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _leftovers(target: Path, kind: str) -> list[Path]:
    prefix = f".{target.name}{kind}"
    return sorted(path for path in target.parent.iterdir() if path.name.startswith(prefix))


def _recover(target: Path) -> None:
    """Undo what a killed export left: put a previous export set aside back in place, then
    delete the staging folders and asides (their names are mdm's own)."""
    asides = _leftovers(target, ASIDE)
    if asides and not target.exists():
        newest = max(asides, key=_written_at)
        newest.rename(target)
        _sync_folder(target.parent)
        asides.remove(newest)
    for leftover in [*asides, *_leftovers(target, STAGING)]:
        shutil.rmtree(leftover)


def _written_at(folder: Path) -> str:
    return str(read_marker(folder).get("written_at", ""))


def _check_replaceable(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise MdmError(
            Reason.USAGE,
            f"The export folder {target} is a file. Move it away, or export elsewhere "
            "([paths] exports in mdm.toml, or --out).",
        )
    foreign = sorted(_foreign_entries(target))
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise MdmError(
            Reason.USAGE,
            f"The export folder {target} holds files mdm did not write ({shown}), and an export "
            "replaces its whole folder. Move them away, or export elsewhere ([paths] exports "
            "in mdm.toml, or --out).",
        )


def _foreign_entries(folder: Path) -> set[str]:
    """The entries of ``folder`` that no mdm export wrote."""
    marker = read_marker(folder)
    ours = (set(marker.get("files", [])) if marker else LEGACY_FILES) | {MARKER}
    return {
        entry.name
        for entry in folder.iterdir()
        if entry.name not in ours or entry.is_dir() or entry.is_symlink()
    }


def read_marker(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_marker(folder: Path, marker: dict[str, Any]) -> None:
    path = folder / MARKER
    path.write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    sync_file(path)


def _swap(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        _sync_folder(target.parent)
        return
    if _exchange(staging, target):
        # One atomic step: the new export is in place, the previous one under the staging name.
        _sync_folder(target.parent)
        failpoints.reached("export.swap.exchanged")
        shutil.rmtree(staging, ignore_errors=True)  # else the next export removes it
        return
    aside = target.parent / staging.name.replace(STAGING, ASIDE)
    target.rename(aside)
    failpoints.reached("export.swap.old_aside")
    try:
        staging.rename(target)
    except OSError:
        aside.rename(target)  # the previous export stays
        raise
    _sync_folder(target.parent)
    failpoints.reached("export.swap.new_in_place")
    shutil.rmtree(aside, ignore_errors=True)  # else the next export removes it


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``), so a reader
    never finds the target missing. False where the system or filesystem cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _sync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
