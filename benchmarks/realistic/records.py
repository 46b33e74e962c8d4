"""The live source records of a realistic project, read by mdm's own readers, in match form.

A delta source's live records are its first load and every night's delta up to ``night``
(``deliveries/night-K/``), the last row of each key winning and deleted keys dropped: what
mdm's store holds after that night's run. Full sources are read as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def delivered_nights(directory: Path) -> int:
    """The last night with a delivery (0: only the first load)."""
    nights = [
        int(path.name.split("-")[1])
        for path in (directory / "deliveries").glob("night-*")
        if path.is_dir()
    ]
    return max(nights, default=0)


def raw_records(project: Any, entity: Any, night: int | None = None) -> pd.DataFrame:
    """source, source_key, system, account_source, last_modified and every attribute as read
    (after mdm's reader: joined columns, full names split), for the live records."""
    from mdm.config.specs import LoadMode
    from mdm.schema import attribute_names
    from mdm.sources import read_source

    directory = Path(project.root)
    if night is None:
        night = delivered_nights(directory)
    names = attribute_names(entity)
    parts = []
    for spec in project.spec.sources:
        if str(spec.entity) != str(entity):
            continue
        if spec.mode is LoadMode.DELTA and (directory / "deliveries").exists():
            loads = []
            for k in range(night + 1):
                path = directory / "deliveries" / f"night-{k}" / Path(str(spec.path)).name
                if path.exists():
                    load = read_source(spec.model_copy(update={"path": path}), directory)
                    loads.append(load.records)
            records = pd.concat(loads, ignore_index=True).drop_duplicates("source_key", keep="last")
        else:
            records = read_source(spec, directory).records
        live = records[~records["deleted"].astype(bool)].reset_index(drop=True)
        frame = live.reindex(columns=names).astype("string")
        frame.insert(0, "source", spec.name)
        frame.insert(1, "source_key", live["source_key"].astype(str).to_numpy())
        frame.insert(2, "system", spec.system)
        frame.insert(3, "account_source", getattr(spec, "account_source", None) or pd.NA)
        frame.insert(4, "default_region", spec.default_region)
        frame["last_modified"] = live["last_modified"].to_numpy()
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def match_records(project: Any, entity: Any, night: int | None = None) -> pd.DataFrame:
    """``raw_records`` with every attribute in match form (``mdm.standardize.match_frame``,
    each source's default region for phones, as the pipeline does) and ``raw_<attribute>``
    as read."""
    from mdm.schema import attribute_names
    from mdm.standardize import match_frame

    raw = raw_records(project, entity, night)
    names = attribute_names(entity)
    parts = []
    for region, part in raw.groupby("default_region", sort=False):
        keys = match_frame(entity, part[names].reset_index(drop=True), str(region))
        keys.index = part.index
        parts.append(keys)
    matched = pd.concat(parts).sort_index()
    out = raw.drop(columns=names).join(matched)
    for name in names:
        out[f"raw_{name}"] = raw[name]
    return out
