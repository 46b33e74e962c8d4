"""The workbench's charts: valid SVG, one bar per value, labels escaped, thresholds drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mdm.web.charts import bar_chart, histogram, set_overlap, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def texts(root: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def titles(root: ET.Element) -> list[str]:
    return ["".join(bar.find(f"{SVG}title").itertext()) for bar in bars(root)]  # type: ignore[union-attr]


def test_a_bar_chart_has_a_bar_per_value_longest_for_the_largest() -> None:
    root = parsed(bar_chart([("crm", 120), ("erp", 80), ("support", 0)], label="Records"))
    found = bars(root)
    assert len(found) == 3
    widths = [float(bar.get("width", "")) for bar in found]
    assert widths[0] > widths[1] > widths[2] == 0
    assert widths[1] == pytest.approx(widths[0] * 80 / 120, abs=0.1)
    assert titles(root) == ["crm: 120", "erp: 80", "support: 0"]
    assert {"crm", "erp", "support", "120", "80", "0"} <= set(texts(root))
    assert root.get("aria-label") == "Records"


def test_labels_are_escaped_not_markup() -> None:
    evil = '<script>x</script> & "co"'
    svg = bar_chart([(evil, 3)], label="A & B <chart>")
    assert "<script>" not in svg
    root = parsed(svg)  # still well-formed XML
    assert evil in texts(root)
    assert titles(root) == [f"{evil}: 3"]
    assert root.get("aria-label") == "A & B <chart>"
    stacked = parsed(stacked_bars(["<day>"], [(evil, [2])], label="<x>"))
    assert titles(stacked) == [f"<day>, {evil}: 2"]
    assert "<day>" in texts(stacked)
    lines = parsed(histogram([0, 1], [1], label="h", lines=[(0.5, "<b>cut</b>")]))
    assert "<b>cut</b> 0.5" in texts(lines)


def test_a_long_label_is_shortened_and_kept_whole_in_the_title() -> None:
    name = "a source with a very long name indeed, longer than thirty"
    root = parsed(bar_chart([(name, 1)], label="x"))
    assert titles(root) == [f"{name}: 1"]
    shown = [t for t in texts(root) if t.startswith("a source")]
    assert shown and len(shown[0]) == 30 and shown[0].endswith("…")


def test_a_histogram_has_a_bar_per_bin_and_a_line_per_threshold() -> None:
    edges = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    root = parsed(
        histogram(edges, [4, 0, 2, 8, 1], label="Scores", lines=[(0.95, "match"), (0.5, "review")])
    )
    found = bars(root)
    assert len(found) == 5
    heights = [float(bar.get("height", "")) for bar in found]
    assert heights[3] == max(heights) and heights[1] == 0
    assert heights[0] == pytest.approx(heights[3] / 2, abs=0.1)
    assert titles(root)[0] == "0.5 to 0.6: 4"
    lines = [line for line in root.iter(f"{SVG}line") if line.get("class") == "threshold"]
    assert len(lines) == 2
    # Drawn where the value is on the bins' axis: 0.95 half-way through the last bin.
    x_of = {"".join(line.itertext()): float(line.get("x1", "")) for line in lines}
    last = found[-1]
    middle = float(last.get("x", "")) + float(last.get("width", "")) / 2
    assert x_of["match: 0.95"] == pytest.approx(middle, abs=1.0)
    assert x_of["review: 0.5"] == pytest.approx(float(found[0].get("x", "")), abs=1.0)
    assert {"match 0.95", "review 0.5"} <= set(texts(root))


def test_a_histogram_needs_one_edge_more_than_bins() -> None:
    with pytest.raises(ValueError, match="3 counts need 4 edges"):
        histogram([0, 1, 2], [1, 2, 3], label="x")


def test_stacked_bars_stack_each_series_and_skip_zeros() -> None:
    days = ["2024-05-01", "2024-05-02", "2024-05-03"]
    root = parsed(stacked_bars(days, [("ann", [3, 0, 1]), ("bob", [1, 2, 0])], label="Decisions"))
    found = bars(root)
    assert len(found) == 4  # the two zeros draw nothing
    assert titles(root) == [
        "2024-05-01, ann: 3",
        "2024-05-01, bob: 1",
        "2024-05-02, bob: 2",
        "2024-05-03, ann: 1",
    ]
    first_day = found[:2]
    # bob's piece sits on ann's: it ends where ann's starts.
    ann, bob = first_day
    assert float(bob.get("y", "")) + float(bob.get("height", "")) == pytest.approx(
        float(ann.get("y", "")), abs=0.11
    )
    assert float(ann.get("height", "")) == pytest.approx(3 * float(bob.get("height", "")), abs=0.2)
    assert {"ann", "bob", *days} <= set(texts(root))
    with pytest.raises(ValueError, match="series 'ann' has 1 values for 3"):
        stacked_bars(days, [("ann", [1])], label="x")


def test_one_series_is_a_column_chart_with_totals_and_no_legend() -> None:
    root = parsed(stacked_bars(["1", "2", "3"], [("golden", [157, 0, 13])], label="Sizes"))
    assert titles(root) == ["1, golden: 157", "3, golden: 13"]
    totals = [
        "".join(node.itertext()) for node in root.iter(f"{SVG}text") if node.get("class") == "total"
    ]
    assert totals == ["157", "13"]
    assert "golden" not in texts(root)  # no legend for one series
    # Grid lines at round counts below the top: 50, 100, 150.
    assert {"50", "100", "150"} <= set(texts(root))


def test_an_overlap_chart_has_a_row_per_combination_and_a_dot_per_set() -> None:
    systems = ["CRM", "ERP & co", "Support"]
    rows = [(["CRM", "ERP & co"], 134), (["CRM"], 123), (["Support", "CRM", "ERP & co"], 4)]
    root = parsed(set_overlap(systems, rows, label="Overlap"))
    assert titles(root) == ["CRM + ERP & co: 134", "CRM: 123", "CRM + ERP & co + Support: 4"]
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == 3 * 3
    filled = [c.get("class") for c in circles]
    assert filled == ["in", "in", "out", "in", "out", "out", "in", "in", "in"]
    assert {"CRM", "ERP & co", "Support", "134", "123", "4"} <= set(texts(root))
    widths = [float(bar.get("width", "")) for bar in bars(root)]
    assert widths[0] > widths[1] > widths[2]


@pytest.mark.parametrize(
    "svg",
    [
        bar_chart([], label="empty"),
        histogram([0.0], [], label="empty"),
        stacked_bars([], [], label="empty"),
        set_overlap(["CRM"], [], label="empty"),
    ],
)
def test_no_data_is_a_small_chart_that_says_so(svg: str) -> None:
    root = parsed(svg)
    assert bars(root) == []
    assert "Nothing to show yet." in texts(root)
