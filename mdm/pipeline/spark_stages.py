"""Standardizing and survivorship on Spark, for a project whose engine is ``spark``: the very
functions the local engine runs (``compute_forms``, ``build_golden``), applied by Spark to
partitions of the data (``mapInPandas``, over Arrow), their results brought back to the driver
in the order and dtypes of the local call. Same inputs, same rules, identical results.

* Standardizing: the new record versions (their attributes and regions) in
  ``partitions`` slices; every record is standardized alone (its values and its region), so
  slicing changes nothing.
* Survivorship: the members and the steward pins of each golden record in one partition
  (partitioned by golden id); a golden record's values and lineage depend only on its own
  members and pins, and on the run's ``now``, which the driver fixes before (as
  ``build_golden`` would: the latest last_modified of all members).

Below ``STANDARDIZE_ON_SPARK_FROM`` records (``SURVIVE_ON_SPARK_FROM`` members) the local
call runs instead: a Spark job's fixed cost is larger than the work. PySpark is imported only
when Spark runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mdm.config.specs import SparkSpec
from mdm.config.survivorship_spec import SurvivorshipSpec
from mdm.match_keys import compute_forms
from mdm.schema import Entity, attribute_names, survived_attribute_names
from mdm.standardize.parallel import WORKERS_VARIABLE
from mdm.survivorship import LINEAGE_DTYPES, PIN_COLUMNS, Golden, build_golden
from mdm.survivorship.builder import survivorship_now

if TYPE_CHECKING:
    from pyspark.sql.types import StructType

# Record versions from which ingest standardizes on Spark; below, in this process (about
# 30 µs per distinct value and attribute here: 10,000 records are a second or two, what a
# Spark job's round trip costs).
STANDARDIZE_ON_SPARK_FROM = 10_000
# Members from which survivorship runs on Spark; below, in this process. ``build_golden`` costs
# about 30 µs per member: 100,000 members are 3 s, from where a cluster's cores pay for the
# job's round trip (the members and every lineage row through Arrow twice).
SURVIVE_ON_SPARK_FROM = 100_000
# The Spark job groups of these stages (the Spark UI and status tracker show them).
STANDARDIZE_JOBS = "mdm.standardize"
SURVIVE_JOBS = "mdm.survivorship"

_ROW = "_row"  # a row's position in the driver's frame
_REGION = "_region"
_KEY = "key:"  # prefixes of the match keys and display forms Spark sends back
_CLEAN = "clean:"
_IS_PIN = "_is_pin"  # survivorship's input: a member row (False) or a pin row (True)
_PIN = "_pin_"  # prefix of a pin's columns
_KIND = "_kind"  # survivorship's output: a values row or a lineage row
_SEQUENCE = "_sequence"  # a lineage row's position in its partition's lineage
_VALUE = "value:"  # prefix of a golden value's column
_VALUES, _LINEAGE = "values", "lineage"
_NO_RECORD = np.iinfo(np.int64).min  # a pin's lineage row names no record


# ---- standardizing -------------------------------------------------------------------------


def spark_forms(
    settings: SparkSpec, entity: Entity, raw: pd.DataFrame, region: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``compute_forms(entity, raw, region)``, on Spark from ``STANDARDIZE_ON_SPARK_FROM``
    records: the same match keys and display forms, by the index of ``raw``."""
    if raw.empty or len(raw) < STANDARDIZE_ON_SPARK_FROM:
        return compute_forms(entity, raw, region)
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from mdm.matching.spark_session import job_group, quiet_pyspark, spark_session

    names = attribute_names(entity)
    sent = raw.reindex(columns=names).astype("string").reset_index(drop=True)
    sent.insert(0, _ROW, np.arange(len(sent), dtype=np.int64))
    aligned = region if region.index.equals(raw.index) else region.reindex(raw.index)
    sent[_REGION] = pd.array(_texts(aligned), dtype="string")
    text = [StructField(name, StringType(), True) for name in [*names, _REGION]]
    schema = StructType([StructField(_ROW, LongType(), False), *text])
    returned = StructType(
        [
            StructField(_ROW, LongType(), False),
            *(StructField(_KEY + name, StringType(), True) for name in names),
            *(StructField(_CLEAN + name, StringType(), True) for name in names),
        ]
    )
    spark = spark_session(settings)
    with (
        quiet_pyspark(),
        job_group(spark, STANDARDIZE_JOBS, f"standardize {len(sent):,} {entity}s"),
    ):
        frame = spark.createDataFrame(sent, schema=schema).repartition(settings.partitions)
        found = frame.mapInPandas(_forms_of(entity, region.dtype), returned).toPandas()
    found = found.sort_values(_ROW, kind="stable", ignore_index=True)
    if not np.array_equal(found[_ROW].to_numpy(dtype=np.int64), sent[_ROW].to_numpy()):
        raise RuntimeError("Spark's standardizing lost or repeated record versions")
    empty_keys, empty_clean = compute_forms(entity, raw.iloc[:0], region.iloc[:0])
    return (
        _shaped(found, _KEY, empty_keys, raw.index),
        _shaped(found, _CLEAN, empty_clean, raw.index),
    )


def _forms_of(
    entity: Entity, region_dtype: Any
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """What each partition runs: ``compute_forms`` of each batch, with each record's region
    as the driver had it (``region_dtype``)."""
    names = attribute_names(entity)

    def forms(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        _one_process()
        for batch in batches:
            if batch.empty:
                continue
            region = pd.Series(_texts(batch[_REGION]), dtype=region_dtype)
            keys, clean = compute_forms(entity, batch[names], region)
            out = {_ROW: batch[_ROW].to_numpy(dtype=np.int64)}
            out |= {_KEY + name: _texts(keys[name]) for name in names}
            out |= {_CLEAN + name: _texts(clean[name]) for name in names}
            yield pd.DataFrame(out)

    return forms


def _shaped(
    found: pd.DataFrame, prefix: str, like: pd.DataFrame, index: pd.Index[Any]
) -> pd.DataFrame:
    """The columns of ``found`` under ``prefix`` as ``like``'s columns and dtypes, on
    ``index``."""
    return pd.DataFrame(
        {
            name: pd.Series(_texts(found[prefix + name]), dtype=like[name].dtype).array
            for name in like.columns
        },
        index=index,
    )


# ---- survivorship --------------------------------------------------------------------------


def spark_golden(
    settings: SparkSpec,
    spec: SurvivorshipSpec,
    members: pd.DataFrame,
    *,
    now: datetime | str | None = None,
    pins: pd.DataFrame | None = None,
) -> Golden:
    """``build_golden(spec, members, now=now, pins=pins)``, on Spark from
    ``SURVIVE_ON_SPARK_FROM`` members: the same values and lineage, in the same order and
    dtypes."""
    if members.empty or len(members) < SURVIVE_ON_SPARK_FROM:
        return build_golden(spec, members, now=now, pins=pins)
    from mdm.matching.spark_session import job_group, quiet_pyspark, spark_session

    # The one input every golden record shares: fixed here, for every partition alike.
    moment = survivorship_now(members, now)
    attributes = survived_attribute_names(spec.entity)
    sent, schema = _golden_input(members, pins)
    spark = spark_session(settings)
    description = f"survivorship of {len(members):,} {spec.entity} members"
    with quiet_pyspark(), job_group(spark, SURVIVE_JOBS, description):
        frame = spark.createDataFrame(sent, schema=schema)
        frame = frame.repartition(settings.partitions, "golden_id")
        built = _golden_of(spec, dict(members.dtypes), moment, pins is not None)
        found = frame.mapInPandas(built, _golden_schema(attributes)).toPandas()
    golden_ids = pd.factorize(members["golden_id"].astype("string"), sort=True)[1]
    order = pd.Index(np.asarray(golden_ids, dtype=object), dtype="string", name="golden_id")
    values = _values(found[found[_KIND] == _VALUES], order, attributes)
    lineage = _lineage(found[found[_KIND] == _LINEAGE], order)
    return Golden(values, lineage, moment)


def _golden_input(
    members: pd.DataFrame, pins: pd.DataFrame | None
) -> tuple[pd.DataFrame, StructType]:
    """Members and pins in one frame for Spark (a pin row has its golden id and the pin's
    columns; a member row the members' columns), each column of one Spark type, never null
    where Spark would read integers back as floats."""
    from pyspark.sql.types import (
        BooleanType,
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    columns: dict[str, Any] = {}
    fields: list[StructField] = []
    count = len(members) + (0 if pins is None else len(pins))
    for name in members.columns:
        column, kind = _arrow_column(members[name])
        spark_type = {"i": LongType(), "b": BooleanType(), "f": DoubleType()}.get(kind)
        fill: Any = {"i": 0, "b": False, "f": np.nan}.get(kind)
        if name == "golden_id" and pins is not None:
            fill = None  # filled with the pins' golden ids below
        padded = np.full(count, fill, dtype=column.dtype)
        padded[: len(members)] = column
        columns[name] = padded
        fields.append(StructField(name, spark_type or StringType(), spark_type is None))
    if pins is not None:
        columns["golden_id"][len(members) :] = _texts(pins["golden_id"])
        for name in PIN_COLUMNS:
            if name != "golden_id":
                texts = np.full(count, None, dtype=object)
                texts[len(members) :] = _texts(pins[name])
                columns[_PIN + name] = texts
                fields.append(StructField(_PIN + name, StringType(), True))
    columns[_IS_PIN] = np.arange(count) >= len(members)
    fields.append(StructField(_IS_PIN, BooleanType(), False))
    return pd.DataFrame(columns), StructType(fields)


def _golden_of(
    spec: SurvivorshipSpec, dtypes: dict[str, Any], moment: pd.Timestamp | None, pinned: bool
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """What each partition runs: ``build_golden`` of its members and pins, whole (a golden
    record's rows may be in several of the partition's batches)."""
    attributes = survived_attribute_names(spec.entity)
    pin_names = [name for name in PIN_COLUMNS if name != "golden_id"]
    lineage_texts = [n for n in LINEAGE_DTYPES if n not in ("golden_id", "record_id", "candidates")]

    def golden(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        _one_process()
        rows = [batch for batch in batches if not batch.empty]
        if not rows:
            return
        frame = pd.concat(rows, ignore_index=True)
        is_pin = frame[_IS_PIN].to_numpy(dtype=bool)
        members = pd.DataFrame(
            {name: _restored(frame.loc[~is_pin, name], dtype) for name, dtype in dtypes.items()}
        )
        if members.empty:
            return
        pins = None
        if pinned:
            pins = pd.DataFrame(
                {
                    name: pd.array(
                        frame.loc[is_pin, name if name == "golden_id" else _PIN + name].to_numpy(
                            dtype=object
                        ),
                        dtype="string",
                    )
                    for name in ["golden_id", *pin_names]
                }
            )
        built = build_golden(spec, members, now=moment, pins=pins)
        values, lineage = built.values, built.lineage
        yield pd.DataFrame(
            {
                _KIND: _VALUES,
                "golden_id": values.index.to_numpy(dtype=object),
                **{_VALUE + name: _texts(values[name]) for name in attributes},
                _SEQUENCE: 0,
                "record_id": _NO_RECORD,
                "candidates": 0,
                **dict.fromkeys(lineage_texts),
            }
        )
        yield pd.DataFrame(
            {
                _KIND: _LINEAGE,
                "golden_id": _texts(lineage["golden_id"]),
                _SEQUENCE: np.arange(len(lineage), dtype=np.int64),
                "record_id": lineage["record_id"].to_numpy(dtype=np.int64, na_value=_NO_RECORD),
                "candidates": lineage["candidates"].to_numpy(dtype=np.int64),
                **{name: _texts(lineage[name]) for name in lineage_texts},
                **dict.fromkeys(_VALUE + name for name in attributes),
            }
        )

    return golden


def _golden_schema(attributes: list[str]) -> StructType:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    text = StringType()
    numbers = ("record_id", "candidates")
    return StructType(
        [
            StructField(_KIND, text, False),
            StructField("golden_id", text, False),
            *(StructField(_VALUE + name, text, True) for name in attributes),
            StructField(_SEQUENCE, LongType(), False),
            *(StructField(name, LongType(), False) for name in numbers),
            *(
                StructField(name, text, True)
                for name in LINEAGE_DTYPES
                if name not in ("golden_id", *numbers)
            ),
        ]
    )


def _values(found: pd.DataFrame, order: pd.Index[str], attributes: list[str]) -> pd.DataFrame:
    """The golden values by golden id, in ``build_golden``'s order (``order``)."""
    found = found.set_index(pd.Index(_texts(found["golden_id"]), dtype="string"))
    if not found.index.is_unique or len(found) != len(order) or not found.index.isin(order).all():
        raise RuntimeError("Spark's survivorship lost or repeated golden records")
    found = found.reindex(order)
    return pd.DataFrame(
        {name: pd.array(_texts(found[_VALUE + name]), dtype="string") for name in attributes},
        index=order,
    )


def _lineage(found: pd.DataFrame, order: pd.Index[str]) -> pd.DataFrame:
    """Lineage rows by golden id (in ``order``), then as each golden record's partition
    ordered them (attribute, then value): ``build_golden``'s order."""
    golden = order.get_indexer(pd.Index(_texts(found["golden_id"]), dtype="string"))
    if (golden < 0).any():
        raise RuntimeError("Spark's survivorship gave lineage of an unknown golden record")
    found = found.iloc[np.lexsort((found[_SEQUENCE].to_numpy(dtype=np.int64), golden))]
    record_id = found["record_id"].to_numpy(dtype=np.int64)
    columns: dict[str, Any] = {}
    for name, dtype in LINEAGE_DTYPES.items():
        if name == "record_id":
            ids = pd.array(record_id, dtype="Int64")
            ids[record_id == _NO_RECORD] = pd.NA
            columns[name] = ids
        elif name == "candidates":
            columns[name] = found[name].to_numpy(dtype=np.int64)
        else:
            columns[name] = pd.Series(_texts(found[name]), dtype=dtype).array
    return pd.DataFrame(columns)


# ---- Arrow and Spark -----------------------------------------------------------------------


def _one_process() -> None:
    """Spark runs a task per core: a task's standardizing stays in its own process."""
    os.environ[WORKERS_VARIABLE] = "0"


def _texts(column: pd.Series | pd.Index[Any]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Text as Python objects, None where missing (what Arrow reads as null)."""
    values = pd.Series(np.asarray(column, dtype=object), dtype=object)
    return np.asarray(values.where(values.notna(), None).to_numpy(), dtype=object)


def _arrow_column(column: pd.Series) -> tuple[np.ndarray[Any, Any], str]:
    """A column as Arrow carries it exactly, and its kind: ``i`` integers (times as integer
    ticks in their own unit, NaT as the smallest integer: Spark's timestamps would cut
    nanoseconds and read time zones), ``b`` booleans, ``f`` floats, else text."""
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        naive = column.dt.tz_convert("UTC").dt.tz_localize(None)
        return naive.to_numpy().view(np.int64), "i"
    if dtype.kind == "M":
        return column.to_numpy().view(np.int64), "i"
    if dtype.kind in "iu" and not column.isna().any():
        return column.to_numpy(dtype=np.int64), "i"
    if dtype.kind == "b" and not column.isna().any():
        return column.to_numpy(dtype=bool), "b"
    if dtype.kind == "f":
        return column.to_numpy(dtype=np.float64, na_value=np.nan), "f"
    return _texts(column), "s"


def _restored(column: pd.Series, dtype: Any) -> pd.Series:
    """A column Spark handed back (``_arrow_column``) as the driver had it: ``dtype``."""
    column = column.reset_index(drop=True)
    if isinstance(dtype, pd.DatetimeTZDtype):
        ticks = column.to_numpy(dtype=np.int64).view(f"datetime64[{dtype.unit}]")
        return pd.Series(ticks).dt.tz_localize("UTC").dt.tz_convert(dtype.tz).astype(dtype)
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return pd.Series(column.to_numpy(dtype=np.int64).view(dtype))
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return pd.Series(_texts(column), dtype=object)
    return column.astype(dtype)
