"""The workbench's charts: inline SVG drawn on the server, shared with the run reports, which
live in ``mdm.reports.charts``."""

from mdm.reports.charts import (
    BAR_COLOUR,
    PALETTE,
    bar_chart,
    histogram,
    set_overlap,
    stacked_bars,
    weights_chart,
)

__all__ = [
    "BAR_COLOUR",
    "PALETTE",
    "bar_chart",
    "histogram",
    "set_overlap",
    "stacked_bars",
    "weights_chart",
]
