"""Parquet extracts, read with nullable pandas types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mdm.config.specs import SourceSpec
from mdm.errors import MdmError
from mdm.sources.columns import require_columns
from mdm.sources.parsing import Parsed, existing_file, fail, unique_names
from mdm.sources.validate import STRING


def parquet_columns(spec: SourceSpec, root: Path, location: str) -> tuple[list[str], str]:
    import pyarrow.parquet as pq

    path = existing_file(spec, root, location)
    try:
        return list(pq.read_schema(path).names), "the file"
    except Exception as error:  # pyarrow raises many types; every one means "not readable"
        raise _parquet_error(spec, location, error) from error


def read_parquet(spec: SourceSpec, root: Path, location: str) -> Parsed:
    import pyarrow.parquet as pq

    columns, container = parquet_columns(spec, root, location)
    require_columns(spec, location, columns, container)
    path = existing_file(spec, root, location)
    try:
        table = pq.read_table(path)
        # ignore_metadata: a pandas index stored in the file comes back as a plain column.
        frame = table.to_pandas(ignore_metadata=True, types_mapper=nullable_type)
    except Exception as error:
        raise _parquet_error(spec, location, error) from error
    frame.columns = unique_names([str(c) for c in frame.columns])
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row_number").astype("int64")
    return Parsed(frame, [], len(frame))


def nullable_type(arrow_type: Any) -> Any:
    """Nullable pandas types, so integers with gaps do not become floats ('1001.0')."""
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return pd.api.types.pandas_dtype(str(arrow_type).capitalize().replace("Uint", "UInt"))
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return STRING
    return None


def _parquet_error(spec: SourceSpec, location: str, error: Exception) -> MdmError:
    message = f"not a readable Parquet file: {error}"
    return fail(spec, location, "path", message, "is 'format' right in mdm.toml?")
