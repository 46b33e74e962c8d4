"""Mask personal data in an export, for sharing it: a person's names, emails and phones become
tokens, the same value always the same token, so counts, joins and duplicates still show.

Two kinds, as the user chooses:

* ``reversible``: the value encrypted with AES-SIV (RFC 5297), a deterministic authenticated
  encryption, under the project's mask key: ``siv:`` and the ciphertext in URL-safe base64
  (the value padded to a multiple of 16 bytes first, so the token tells its length roughly).
  The owner of the key gets the values back with ``mdm export --unmask``; anyone else learns
  nothing but which cells are equal.
* ``irreversible``: a keyed hash, HMAC-SHA-256 under the project's mask key, cut to 128 bits:
  ``hmac:`` and 32 hex digits. Nobody gets the value back, and without the key nobody can test
  a guess (a plain hash of an email could be looked up).

The key: ``MDM_MASK_KEY`` (64 hex digits) if set, else the project's ``mask.key``, made on
first use with 32 random bytes, readable by its owner only (a key file others can read is
refused). The two kinds' keys are derived from it apart (HKDF), so a hash never tells
anything about a ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mdm.errors import MdmError, Reason
from mdm.publish.tables import ExportTable, Personal, escape_formula, personal_attributes
from mdm.publish.writers import WRITE_BUFFER, Rows
from mdm.schema import Entity

KEY_FILE = "mask.key"
KEY_ENV = "MDM_MASK_KEY"
KEY_BYTES = 32
SIV_PREFIX = "siv:"
HMAC_PREFIX = "hmac:"
HMAC_TOKEN_BYTES = 16
PAD_BYTES = 16  # a reversible token's value is padded to a multiple of this many bytes
_SIV_TOKEN = re.compile(r"siv:[A-Za-z0-9_-]{22,}")  # 16 bytes of tag at least
_UNMASK_BATCH = 65_536  # Parquet rows unmasked at a time

RowTransform = Callable[[Rows], Rows]


class MaskMode(StrEnum):
    REVERSIBLE = "reversible"
    IRREVERSIBLE = "irreversible"


# ---- the key ---------------------------------------------------------------------------------


def project_key(root: Path, *, create: bool) -> bytes:
    """The project's mask key: from ``MDM_MASK_KEY``, else from ``root``/mask.key, which is
    made (readable by its owner only) if it is absent and ``create``."""
    from_environment = os.environ.get(KEY_ENV)
    if from_environment is not None:
        return _key_from_hex(from_environment, KEY_ENV)
    path = root / KEY_FILE
    if not path.exists():
        if not create:
            raise MdmError(
                Reason.USAGE,
                f"This project has no mask key ({path}, or {KEY_ENV}): nothing was masked "
                "with it. Unmask with the project, or the key, that masked the files.",
            )
        _create_key_file(path)
    return _read_key_file(path)


def _create_key_file(path: Path) -> None:
    """Write a new random key beside, then link it into place: two exports starting at once
    both end up with the one key that won, never with a half-written file."""
    staging = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    handle = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(handle, "w", encoding="ascii") as key_file:
            key_file.write(secrets.token_hex(KEY_BYTES) + "\n")
            key_file.flush()
            os.fsync(key_file.fileno())
        with contextlib.suppress(FileExistsError):  # another export made it first: use it
            os.link(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MdmError(
            Reason.USAGE,
            f"The mask key {path} can be read by other users (mode {mode:o}): anyone who can "
            f"read it can unmask the exports. Make it yours alone (chmod 600 {path}) and "
            "run the export again.",
        )
    return _key_from_hex(path.read_text(encoding="ascii").strip(), str(path))


def _key_from_hex(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise MdmError(
            Reason.USAGE,
            f"The mask key in {where} is not {2 * KEY_BYTES} hexadecimal digits. Make one with "
            "python -c 'import secrets; print(secrets.token_hex(32))'; keep it safe: exports "
            "masked with it can be unmasked only with it.",
        )
    return key


def _derived(key: bytes, purpose: bytes, length: int) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), length, salt=None, info=b"mdm mask: " + purpose).derive(key)


# ---- tokens ----------------------------------------------------------------------------------


class Masker:
    """Turns values into tokens: the same value, the same token, under one key and mode."""

    def __init__(self, key: bytes, mode: MaskMode) -> None:
        self.mode = mode
        if mode is MaskMode.REVERSIBLE:
            from cryptography.hazmat.primitives.ciphers.aead import AESSIV

            cipher = AESSIV(_derived(key, b"aes-siv", 64))

            def token(value: str) -> str:
                sealed = cipher.encrypt(_padded(value.encode("utf-8")), None)
                return SIV_PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

        else:
            secret = _derived(key, b"hmac-sha256", 32)

            def token(value: str) -> str:
                digest = hmac.new(secret, value.encode("utf-8"), hashlib.sha256).digest()
                return HMAC_PREFIX + digest[:HMAC_TOKEN_BYTES].hex()

        # The same few values come back often (a company's switchboard, a common first name).
        self.token: Callable[[str], str] = functools.lru_cache(maxsize=1 << 16)(token)

    def mask(self, value: Any) -> Any:
        """``value`` as a token (text only: empty cells stay empty)."""
        return self.token(value) if isinstance(value, str) else value


class Unmasker:
    """Turns reversible tokens back into their values."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV

        self._cipher = AESSIV(_derived(key, b"aes-siv", 64))

    def value_of(self, token: str) -> str:
        """The value of a ``siv:`` token; ValueError if this key did not make it."""
        from cryptography.exceptions import InvalidTag

        encoded = token[len(SIV_PREFIX) :]
        try:
            sealed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            return _unpadded(self._cipher.decrypt(sealed, None)).decode("utf-8")
        except (InvalidTag, binascii.Error, UnicodeDecodeError) as error:
            raise ValueError("not a token of this key") from error

    def unmask(self, cell: Any) -> Any:
        """A cell with its tokens replaced by their values: a token, or JSON text holding
        tokens as its strings (a lineage row's beaten values, a golden version's record)."""
        if not isinstance(cell, str) or SIV_PREFIX not in cell:
            return cell
        if _SIV_TOKEN.fullmatch(cell):
            return self.value_of(cell)
        if cell.startswith(("{", "[")):
            try:
                parsed = json.loads(cell)
            except ValueError:
                return cell
            return json.dumps(_map_strings(parsed, self._unmask_string), ensure_ascii=False)
        return cell

    def _unmask_string(self, value: str) -> str:
        return self.value_of(value) if _SIV_TOKEN.fullmatch(value) else value


def _padded(data: bytes) -> bytes:
    """``data`` padded to a multiple of ``PAD_BYTES`` (a 0x80 byte, then zeros: ISO/IEC
    7816-4), so a token tells a value's length only roughly."""
    return data + b"\x80" + b"\x00" * (-(len(data) + 1) % PAD_BYTES)


def _unpadded(data: bytes) -> bytes:
    end = data.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise UnicodeDecodeError("utf-8", data, 0, len(data), "no padding")
    return end[:-1]


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    return value


# ---- masking an export's rows ----------------------------------------------------------------


def masked_columns(table: ExportTable) -> frozenset[str]:
    """The columns of ``table`` that may hold personal data."""
    return frozenset(c.name for c in table.columns if c.personal is not Personal.NO)


def row_masker(table: ExportTable, masker: Masker, *, escape: bool) -> RowTransform | None:
    """A function that masks the personal cells of ``table``'s rows (None: it has none);
    ``escape``: the cells of those columns that stay as they are get the CSV export's formula
    escaping (the database left them raw, to mask the values themselves)."""
    changes = [
        (index, _cell_masker(table, column.personal, masker))
        for index, column in enumerate(table.columns)
        if column.personal is not Personal.NO
    ]
    if not changes:
        return None

    def mask_rows(rows: Rows) -> Rows:
        masked = []
        for row in rows:
            cells = list(row)
            for index, change in changes:
                value = change(row, cells[index])
                cells[index] = escape_formula(value) if escape else value
            masked.append(tuple(cells))
        return masked

    return mask_rows


CellMasker = Callable[[Sequence[Any], Any], Any]  # (the row, the cell) -> the cell masked


def _cell_masker(table: ExportTable, personal: Personal, masker: Masker) -> CellMasker:
    if personal is Personal.VALUE:
        return lambda _row, cell: masker.mask(cell)
    entity_at = table.index("entity")
    personal_names = {entity.value: personal_attributes(entity) for entity in Entity}
    if personal is Personal.RECORD:

        def record(row: Sequence[Any], cell: Any) -> Any:
            names = personal_names.get(row[entity_at], frozenset())
            values = json.loads(cell) if isinstance(cell, str) else None
            if not isinstance(values, dict):
                return cell
            masked = {key: masker.mask(v) if key in names else v for key, v in values.items()}
            return json.dumps(masked, ensure_ascii=False)

        return record
    attribute_at = table.index("attribute")

    def is_personal(row: Sequence[Any]) -> bool:
        return row[attribute_at] in personal_names.get(row[entity_at], frozenset())

    if personal is Personal.LINEAGE_VALUE:
        return lambda row, cell: masker.mask(cell) if is_personal(row) else cell
    group_at = table.index("group_name")

    def beaten(row: Sequence[Any], cell: Any) -> Any:
        if not isinstance(cell, str) or not (is_personal(row) or row[group_at] is not None):
            return cell
        values = json.loads(cell)
        if not isinstance(values, list):
            return cell
        masked = [
            {**item, "value": masker.mask(item.get("value"))} if isinstance(item, dict) else item
            for item in values
        ]
        return json.dumps(masked, ensure_ascii=False)

    return beaten


# ---- unmasking files -------------------------------------------------------------------------


def unmask_files(source: Path, folder: Path, unmasker: Unmasker) -> list[str]:
    """Write into ``folder`` the CSV and Parquet files of ``source`` (one such file, or a
    folder of them, such as a masked export) with their tokens replaced by their values; the
    names written. A CSV cell unmasked gets the export's formula escaping."""
    files = _files_to_unmask(source)
    for path in files:
        if path.suffix == ".csv":
            _unmask_csv(path, folder / path.name, unmasker)
        else:
            _unmask_parquet(path, folder / path.name, unmasker)
    return [path.name for path in files]


def _files_to_unmask(source: Path) -> list[Path]:
    wanted = (".csv", ".parquet")
    if source.is_file() and source.suffix in wanted:
        return [source]
    if source.is_dir():
        found = sorted(p for p in source.iterdir() if p.is_file() and p.suffix in wanted)
        if found:
            return found
    raise MdmError(
        Reason.USAGE,
        f"Nothing to unmask at {source}: give a masked export's folder, or one of its CSV or "
        "Parquet files.",
    )


def _unmask_csv(path: Path, target: Path, unmasker: Unmasker) -> None:
    with (
        path.open(encoding="utf-8", newline="") as old,
        target.open("w", encoding="utf-8", newline="", buffering=WRITE_BUFFER) as new,
    ):
        reader, writer = csv.reader(old), csv.writer(new, lineterminator=os.linesep)
        header = next(reader, None)
        if header is None:
            return
        writer.writerow(header)
        for number, row in enumerate(reader, start=2):
            writer.writerow(
                [
                    _unmasked(unmasker, cell, path, number, name, escape=True)
                    for name, cell in zip(header, row, strict=False)
                ]
            )


def _unmask_parquet(path: Path, target: Path, unmasker: Unmasker) -> None:
    source = pq.ParquetFile(path)
    schema = source.schema_arrow
    text = [i for i, field in enumerate(schema) if pa.types.is_string(field.type)]
    with pq.ParquetWriter(target, schema, compression="snappy") as writer:
        first_row = 1
        for batch in source.iter_batches(batch_size=_UNMASK_BATCH):
            columns = list(batch.columns)
            for i in text:
                cells = columns[i].to_pylist()
                columns[i] = pa.array(
                    [
                        _unmasked(unmasker, cell, path, first_row + n, schema[i].name, escape=False)
                        for n, cell in enumerate(cells)
                    ],
                    type=schema[i].type,
                )
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
            first_row += batch.num_rows


def _unmasked(
    unmasker: Unmasker, cell: Any, path: Path, row: int, column: str, *, escape: bool
) -> Any:
    try:
        value = unmasker.unmask(cell)
    except ValueError:
        raise MdmError(
            Reason.USAGE,
            f"{path}, row {row}, column {column}: a token this project's mask key did not "
            "make (masked with another key, or changed since). Unmask with the key that "
            "masked it.",
        ) from None
    return escape_formula(value) if escape and value is not cell else value
