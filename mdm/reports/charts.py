"""Charts as inline SVG: small pure functions from numbers to markup, drawn on the server, with
no script and nothing fetched, so that a page of the workbench and a run report saved as one
file show them alike. Every label is escaped; every bar carries a ``<title>`` (its label and
value, shown on hover and read by screen readers) and the class ``bar``.

    bar_chart([("crm", 120), ("erp", 80)], label="Records per source")
    histogram([0.5, 0.6, 0.7], [4, 2], label="Scores", lines=[(0.5, "review")])
    stacked_bars(["2024-05-01"], [("ann", [3]), ("bob", [1])], label="Decisions per day")
    set_overlap(["CRM", "ERP"], [(["CRM", "ERP"], 134), (["CRM"], 123)], label="Overlap")
    weights_chart([("name", [("exact", 11.3), ("else", -4.9)])], label="Match weights")

Each returns ``Markup`` (a ``str``), which a Jinja template inserts as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

# Series colours, in order; readable on white and told apart by most colour-blind readers.
PALETTE = (
    "#2456c7",
    "#e08a1e",
    "#1d7a46",
    "#8a3ab9",
    "#b4322a",
    "#2a8f9a",
    "#6b7a8f",
    "#c7a224",
)
BAR_COLOUR = PALETTE[0]
LINE_COLOURS = ("#b4322a", "#9a6a00", "#1d7a46", "#5d6b7e")
INK = "#1d2430"
MUTED = "#5d6b7e"
GRID = "#d9dee6"
CHAR_WIDTH = 7.0  # average width of a 12px label character, for laying labels out
LABEL_CHARS = 30  # a longer label is shortened (the whole of it stays in the bar's title)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    label: str,
    width: int = 560,
    bar_height: int = 22,
    unit: str = "",
    colours: Sequence[str] | None = None,
) -> Markup:
    """Horizontal bars, one per ``(label, value)``, in the order given, each with its value
    at its end. ``colours``: one per bar (the default colour for all if absent)."""
    if not bars:
        return _empty(label, width)
    gap = 6
    top = 4
    names = [_short(name) for name, _ in bars]
    left = min(max(len(n) for n in names) * CHAR_WIDTH + 20, width * 0.45)
    values = [float(value) for _, value in bars]
    texts = [_number(value) + unit for value in values]
    right = max(len(t) for t in texts) * CHAR_WIDTH + 10
    room = max(width - left - right, 10.0)
    biggest = max(max(values), 0.0) or 1.0
    height = top * 2 + len(bars) * (bar_height + gap) - gap
    parts = [_open(width, height, label)]
    for index, ((name, _), short, value, text) in enumerate(
        zip(bars, names, values, texts, strict=True)
    ):
        y = top + index * (bar_height + gap)
        length = max(value, 0.0) / biggest * room
        colour = colours[index % len(colours)] if colours else BAR_COLOUR
        middle = y + bar_height / 2
        parts.append(
            f'<text x="{left - 8:.1f}" y="{middle:.1f}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="12" fill="{INK}">{escape(short)}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{left:.1f}" y="{y}" width="{length:.1f}" '
            f'height="{bar_height}" rx="2" fill="{colour}">'
            f"<title>{escape(name)}: {escape(text)}</title></rect>"
        )
        parts.append(
            f'<text x="{left + length + 5:.1f}" y="{middle:.1f}" dominant-baseline="middle" '
            f'font-size="12" fill="{MUTED}">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    label: str,
    lines: Sequence[tuple[float, str]] = (),
    width: int = 560,
    height: int = 220,
    x_format: Callable[[float], str] | None = None,
    x_label: str = "",
) -> Markup:
    """Vertical bars over a numeric axis: bin ``i`` spans ``[edges[i], edges[i + 1])`` and
    holds ``counts[i]``. ``lines``: ``(x, name)`` drawn as labelled vertical lines (a
    threshold), placed on the same axis. ``x_format`` writes an axis value."""
    if len(edges) != len(counts) + 1:
        raise ValueError(f"{len(counts)} counts need {len(counts) + 1} edges, not {len(edges)}")
    write = x_format or _number
    if not counts:
        return _empty(label, width)
    low, high = float(edges[0]), float(edges[-1])
    for x, _ in lines:  # a line outside the bins widens the axis to show it
        low, high = min(low, float(x)), max(high, float(x))
    span = (high - low) or 1.0
    biggest = max(max(counts), 1)
    left, right, top = 44.0, 14.0, 22.0
    bottom = 36.0 if x_label else 24.0
    plot_width, plot_height = width - left - right, height - top - bottom
    base = top + plot_height

    def x_of(value: float) -> float:
        return left + (float(value) - low) / span * plot_width

    parts = [_open(width, height, label)]
    # The count axis: its top and a middle grid line.
    parts.append(_grid(left, width - right, base, plot_height, biggest))
    for index, count in enumerate(counts):
        start, end = x_of(edges[index]), x_of(edges[index + 1])
        tall = count / biggest * plot_height
        where = f"{write(float(edges[index]))} to {write(float(edges[index + 1]))}"
        parts.append(
            f'<rect class="bar" x="{start + 0.5:.1f}" y="{base - tall:.1f}" '
            f'width="{max(end - start - 1, 0.5):.1f}" height="{tall:.1f}" fill="{BAR_COLOUR}">'
            f"<title>{escape(where)}: {count}</title></rect>"
        )
    parts.append(
        f'<line x1="{left:.1f}" y1="{base:.1f}" x2="{width - right:.1f}" y2="{base:.1f}" '
        f'stroke="{MUTED}"/>'
    )
    for value in _ticks(low, high):
        x = x_of(value)
        parts.append(
            f'<line x1="{x:.1f}" y1="{base:.1f}" x2="{x:.1f}" y2="{base + 4:.1f}" '
            f'stroke="{MUTED}"/><text x="{x:.1f}" y="{base + 15:.1f}" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{escape(write(value))}</text>'
        )
    if x_label:
        parts.append(
            f'<text x="{left + plot_width / 2:.1f}" y="{height - 4}" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{escape(x_label)}</text>'
        )
    for index, (x_value, name) in enumerate(sorted(lines)):
        x = x_of(x_value)
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        anchor = "end" if x > left + plot_width * 0.8 else "start"
        shift = -4 if anchor == "end" else 4
        parts.append(
            f'<line class="threshold" x1="{x:.1f}" y1="{top - 14:.1f}" x2="{x:.1f}" '
            f'y2="{base:.1f}" stroke="{colour}" stroke-width="2" stroke-dasharray="5 3">'
            f"<title>{escape(name)}: {escape(write(float(x_value)))}</title></line>"
            f'<text x="{x + shift:.1f}" y="{top - 6:.1f}" text-anchor="{anchor}" font-size="11" '
            f'fill="{colour}">{escape(name)} {escape(write(float(x_value)))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    label: str,
    width: int = 560,
    height: int = 220,
    x_label: str = "",
    colours: Sequence[str] | None = None,
) -> Markup:
    """One vertical bar per category, stacked from each series' value for it (a bar piece
    per non-zero value), its total above it where there is room. Each series has one value
    per category; more than one series get a legend. One series makes a column chart.
    ``colours``: one per series (the palette's, in order, if absent)."""
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(categories)}")
    if not categories or not series:
        return _empty(label, width)
    totals = [sum(float(values[i]) for _, values in series) for i in range(len(categories))]
    biggest = max(max(totals), 1.0)
    legend_rows = _legend_rows(series, width) if len(series) > 1 else []
    left, right = 44.0, 10.0
    top = 16.0 + 18 * len(legend_rows)
    bottom = 36.0 if x_label else 24.0
    plot_width, plot_height = width - left - right, height - top - bottom
    base = top + plot_height
    slot = plot_width / len(categories)
    bar_width = min(slot * 0.7, 48.0)
    palette = colours or PALETTE
    parts = [_open(width, height, label)]
    for row, names in enumerate(legend_rows):
        x = left
        for index, name in names:
            row_y = 4 + row * 18
            parts.append(
                f'<rect x="{x:.1f}" y="{row_y}" width="10" height="10" '
                f'fill="{palette[index % len(palette)]}"/>'
                f'<text x="{x + 14:.1f}" y="{row_y + 5}" dominant-baseline="middle" font-size="11" '
                f'fill="{INK}">{escape(_short(name))}</text>'
            )
            x += _legend_width(name)
    parts.append(_grid(left, width - right, base, plot_height, biggest))
    longest = max(len(_short(c, 12)) for c in categories)
    every = max(1, math.ceil(len(categories) * (longest * 6.5 + 8) / plot_width))
    show_totals = slot >= max(len(_number(t)) for t in totals) * 6.5 + 2
    for column, category in enumerate(categories):
        x = left + column * slot + (slot - bar_width) / 2
        y = base
        for index, (name, values) in enumerate(series):
            value = float(values[column])
            if value <= 0:
                continue
            tall = value / biggest * plot_height
            y -= tall
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" '
                f'height="{tall:.1f}" fill="{palette[index % len(palette)]}">'
                f"<title>{escape(category)}, {escape(name)}: {escape(_number(value))}</title>"
                "</rect>"
            )
        if show_totals and totals[column] > 0:
            parts.append(
                f'<text class="total" x="{x + bar_width / 2:.1f}" y="{y - 4:.1f}" '
                f'text-anchor="middle" font-size="11" fill="{INK}">'
                f"{escape(_number(totals[column]))}</text>"
            )
        if column % every == 0:
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{base + 15:.1f}" text-anchor="middle" '
                f'font-size="11" fill="{MUTED}">{escape(_short(category, 12))}</text>'
            )
    parts.append(
        f'<line x1="{left:.1f}" y1="{base:.1f}" x2="{width - right:.1f}" y2="{base:.1f}" '
        f'stroke="{MUTED}"/>'
    )
    if x_label:
        parts.append(
            f'<text x="{left + plot_width / 2:.1f}" y="{height - 4}" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{escape(x_label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def set_overlap(
    sets: Sequence[str],
    rows: Sequence[tuple[Sequence[str], float]],
    *,
    label: str,
    width: int = 560,
    row_height: int = 22,
) -> Markup:
    """How sets overlap (an UpSet chart): one row per combination of ``sets`` in the order
    given, a dot per set (filled: in the combination, joined by a line), and a bar of its
    count. ``rows``: ``(the sets of the combination, count)``."""
    if not rows or not sets:
        return _empty(label, width)
    names = [_short(name, 14) for name in sets]
    column = max(max(len(n) for n in names) * 6.5 + 10, 28.0)
    head = 22.0
    left = 8.0
    matrix = left + column * len(sets)
    values = [float(count) for _, count in rows]
    right = max(len(_number(v)) for v in values) * CHAR_WIDTH + 10
    room = max(width - matrix - 12 - right, 10.0)
    biggest = max(max(values), 1.0)
    height = head + len(rows) * row_height + 4
    parts = [_open(width, height, label)]
    for index, name in enumerate(names):
        x = left + column * (index + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="14" text-anchor="middle" font-size="11" font-weight="600" '
            f'fill="{INK}">{escape(name)}</text>'
        )
    for index, ((members, _), value) in enumerate(zip(rows, values, strict=True)):
        y = head + index * row_height
        middle = y + row_height / 2
        if index % 2 == 0:
            parts.append(
                f'<rect x="0" y="{y:.1f}" width="{width}" height="{row_height}" fill="#f4f6f9"/>'
            )
        inside = [i for i, name in enumerate(sets) if name in set(members)]
        if len(inside) > 1:
            first, last = (left + column * (i + 0.5) for i in (inside[0], inside[-1]))
            parts.append(
                f'<line x1="{first:.1f}" y1="{middle:.1f}" x2="{last:.1f}" y2="{middle:.1f}" '
                f'stroke="{INK}" stroke-width="2"/>'
            )
        for position in range(len(sets)):
            x = left + column * (position + 0.5)
            filled = position in inside
            parts.append(
                f'<circle class="{"in" if filled else "out"}" cx="{x:.1f}" cy="{middle:.1f}" '
                f'r="5" fill="{INK if filled else GRID}"/>'
            )
        length = max(value, 0.0) / biggest * room
        together = " + ".join(sets[i] for i in inside) or "none"
        parts.append(
            f'<rect class="bar" x="{matrix + 12:.1f}" y="{y + 3:.1f}" width="{length:.1f}" '
            f'height="{row_height - 6}" rx="2" fill="{BAR_COLOUR}">'
            f"<title>{escape(together)}: {escape(_number(value))}</title></rect>"
            f'<text x="{matrix + 17 + length:.1f}" y="{middle:.1f}" dominant-baseline="middle" '
            f'font-size="12" fill="{MUTED}">{escape(_number(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


POSITIVE_COLOUR = "#1d7a46"  # evidence for a match
NEGATIVE_COLOUR = "#b4322a"  # evidence against


def weights_chart(
    groups: Sequence[tuple[str, Sequence[tuple[str, float]]]],
    *,
    label: str,
    width: int = 640,
    bar_height: int = 16,
) -> Markup:
    """Match weights, as Splink draws them: per group (a comparison) a heading, then a
    horizontal bar per ``(level, weight)`` from a zero line, right and green for evidence for
    a match, left and red for evidence against, its weight at its end. ``groups``:
    ``(comparison, [(level, weight), ...])`` in the order given."""
    rows = [(name, level, float(weight)) for name, levels in groups for level, weight in levels]
    if not rows:
        return _empty(label, width)
    gap, heading = 4, 20
    top, bottom = 6.0, 30.0
    left = min(max(len(_short(level)) for _, level, _ in rows) * CHAR_WIDTH + 24, width * 0.4)
    right = 12.0
    weights = [weight for _, _, weight in rows]
    low, high = min(min(weights), 0.0), max(max(weights), 0.0)
    ticks = _ticks(low, high, most=8) if high > low else [0.0]
    if len(ticks) > 1:  # the axis ends on a tick past the longest bars
        step = ticks[1] - ticks[0]
        ticks = [*([ticks[0] - step] if ticks[0] > low else []), *ticks]
        ticks = [*ticks, *([ticks[-1] + step] if ticks[-1] < high else [])]
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    span = (high - low) or 1.0
    room = width - left - right - 96  # room for the values written past the bars' ends
    start = left + 48  # the plot, right of a value written left of the leftmost bar

    def x_of(value: float) -> float:
        return start + (value - low) / span * room

    zero = x_of(0.0)
    height = top + len(groups) * heading + len(rows) * (bar_height + gap) + bottom
    base = height - bottom + 4
    parts = [_open(width, height, label)]
    for value in ticks:  # grid lines first, under the bars
        x = x_of(value)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{base:.1f}" stroke="{GRID}" '
            f'stroke-dasharray="2 3"/><text x="{x:.1f}" y="{base + 14:.1f}" '
            f'text-anchor="middle" font-size="11" fill="{MUTED}">{escape(_number(value))}</text>'
        )
    parts.append(
        f'<text x="{start + room / 2:.1f}" y="{height - 2:.0f}" text-anchor="middle" '
        f'font-size="11" fill="{MUTED}">partial match weight, log2(m / u)</text>'
    )
    y = top
    for name, levels in groups:
        parts.append(
            f'<text class="group" x="4" y="{y + heading / 2 + 3:.1f}" dominant-baseline="middle" '
            f'font-size="12" font-weight="600" fill="{INK}">{escape(_short(name, 48))}</text>'
        )
        y += heading
        for level, raw in levels:
            weight = float(raw)
            x0, x1 = sorted((zero, x_of(weight)))
            middle = y + bar_height / 2
            colour = POSITIVE_COLOUR if weight >= 0 else NEGATIVE_COLOUR
            text = f"{weight:+.2f}"
            value_x, anchor = (x1 + 4, "start") if weight >= 0 else (x0 - 4, "end")
            parts.append(
                f'<text x="{left - 8:.1f}" y="{middle:.1f}" text-anchor="end" '
                f'dominant-baseline="middle" font-size="12" fill="{INK}">'
                f"{escape(_short(level))}</text>"
                f'<rect class="bar {"for" if weight >= 0 else "against"}" x="{x0:.1f}" '
                f'y="{y:.1f}" width="{max(x1 - x0, 1.0):.1f}" height="{bar_height}" rx="2" '
                f'fill="{colour}"><title>{escape(name)}, {escape(level)}: {escape(text)}</title>'
                f'</rect><text x="{value_x:.1f}" y="{middle:.1f}" text-anchor="{anchor}" '
                f'dominant-baseline="middle" font-size="11" fill="{MUTED}">{escape(text)}</text>'
            )
            y += bar_height + gap
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top:.1f}" x2="{zero:.1f}" y2="{base:.1f}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _grid(left: float, right: float, base: float, tall: float, biggest: float) -> str:
    """Horizontal grid lines at round counts up to ``biggest`` (the top of the plot), each
    labelled on the left."""
    parts = []
    for value in _ticks(0, biggest, most=4, whole=True)[1:]:
        y = base - value / biggest * tall
        parts.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-dasharray="2 3"/>'
            f'<text x="{left - 6:.1f}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="11" fill="{MUTED}">{escape(_number(value))}</text>'
        )
    return "".join(parts)


def _open(width: int, height: float, label: str) -> str:
    """The opening of a chart: scales to its container, named for screen readers."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" role="img" '
        f'viewBox="0 0 {width} {height:.0f}" width="{width}" height="{height:.0f}" '
        f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
    )


def _empty(label: str, width: int) -> Markup:
    return Markup(
        _open(width, 40, label)
        + f'<text x="8" y="24" font-size="12" fill="{MUTED}">Nothing to show yet.</text></svg>'
    )


def _legend_rows(
    series: Sequence[tuple[str, Sequence[float]]], width: int
) -> list[list[tuple[int, str]]]:
    """The legend's entries (series index, name), in rows that fit the width."""
    rows: list[list[tuple[int, str]]] = [[]]
    used = 0.0
    for index, (name, _) in enumerate(series):
        wide = _legend_width(name)
        if rows[-1] and used + wide > width - 54:
            rows.append([])
            used = 0.0
        rows[-1].append((index, name))
        used += wide
    return rows


def _legend_width(name: str) -> float:
    return 14 + len(_short(name)) * CHAR_WIDTH + 16


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    """A count as a whole number with thousands separated; a fraction with up to 2 places."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _ticks(low: float, high: float, most: int = 6, whole: bool = False) -> list[float]:
    """Round values between ``low`` and ``high`` for the axis, at most ``most`` + 1 of them
    (``whole``: whole numbers only, for counts)."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / most
    magnitude = 10.0 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    if whole:
        step = max(round(step), 1)
    first = -(-low // step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks
