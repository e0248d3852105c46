"""SVG line charts: round ticks, well-formed documents with every series."""

import itertools
import math
import xml.etree.ElementTree as ET

import pytest
from ringzero.plot import line_chart, nice_ticks, stack, tick_label

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(0, 1), (0, 30), (0, 1.1e6), (0.01, 0.37), (-5, 17), (3, 3), (0, 0), (1e-6, 3e-6), (7, 480)],
)
def test_ticks_cover_the_range_with_round_even_steps(lo, hi):
    ticks = nice_ticks(lo, hi)
    step = ticks[1] - ticks[0]
    assert ticks[0] <= lo + 1e-12 and ticks[-1] >= hi - 1e-12
    assert 3 <= len(ticks) <= 12
    for a, b in itertools.pairwise(ticks):
        assert math.isclose(b - a, step, rel_tol=1e-6)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5))


def test_ticks_do_not_add_a_step_for_a_hair_beyond_the_last():
    assert nice_ticks(0, 30.0002, 8)[-1] == 30


def test_tick_labels_have_the_decimals_of_the_step():
    assert tick_label(1_250_000.0, 250_000.0) == "1,250,000"
    assert tick_label(0.30000000000000004, 0.1) == "0.3"
    assert tick_label(0.5, 0.25) == "0.50"
    assert tick_label(7.5, 2.5) == "7.5"
    assert tick_label(0.0, 5.0) == "0"


def _texts(root):
    return [t.text for t in root.iter(f"{SVG}text")]


def test_chart_is_well_formed_svg_with_every_series_title_and_labels():
    series = {
        "guest heap in use": [(t, 1100 + (t % 3)) for t in range(0, 480, 10)],
        "QEMU RSS <max> & more": [(0, 40.5), (240, 41.0), (470, 41.2)],
    }
    svg = line_chart(series, "Memory over time", "time (min)", "KiB")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 760 360"
    groups = {g.get("data-name"): g for g in root.iter(f"{SVG}g") if g.get("class") == "series"}
    assert list(groups) == list(series)
    line = groups["guest heap in use"].find(f"{SVG}polyline")
    assert line is not None and len(line.get("points").split()) == len(series["guest heap in use"])
    assert len(groups["QEMU RSS <max> & more"].findall(f"{SVG}circle")) == 3
    texts = _texts(root)
    assert "Memory over time" in texts and "time (min)" in texts and "KiB" in texts
    assert "guest heap in use" in texts and "QEMU RSS <max> & more" in texts  # the legend
    assert "0" in texts and "400" in texts  # x ticks
    # every point is inside the drawing
    for g in groups.values():
        for c in g.findall(f"{SVG}circle"):
            assert 0 <= float(c.get("cx")) <= 760 and 0 <= float(c.get("cy")) <= 360


def test_the_y_axis_starts_at_zero_for_positive_values_unless_asked_not_to():
    pts = {"a": [(0, 100.0), (1, 101.0)]}
    assert "0" in _texts(ET.fromstring(line_chart(pts, "t", "x", "y")))
    assert "0" not in _texts(ET.fromstring(line_chart(pts, "t", "x", "y", y_zero=False)))


def test_empty_single_point_and_non_finite_series_still_draw():
    for series in ({}, {"one": [(5, 5)]}, {"nan": [(0, float("nan")), (1, 2.0)]}, {"e": []}):
        root = ET.fromstring(line_chart(series, "t", "x", "y"))
        assert root.tag == f"{SVG}svg"


def test_stack_puts_charts_one_above_the_other_in_one_document():
    a = line_chart({"heap": [(0, 1), (1, 2)]}, "A", "x", "KiB", height=300)
    b = line_chart({"rss": [(0, 40), (1, 41)]}, "B", "x", "MiB", height=200)
    root = ET.fromstring(stack([a, b], gap=10))
    assert root.get("height") == "510"
    inner = root.findall(f"{SVG}svg")
    assert [s.get("y") for s in inner] == ["0", "310"]
    names = [g.get("data-name") for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert names == ["heap", "rss"]
