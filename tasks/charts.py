"""Charts for documents, drawn with matplotlib as SVG whose text stays text (``svg.fonttype = "none"``): the
PDF keeps every label readable, to people using screen readers and to the redaction gate alike."""

from __future__ import annotations

import datetime as dt
import io
import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display here, and none needed

import matplotlib.pyplot as plt
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _svg(figure: Figure) -> str:
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # inline in HTML: no XML declaration or doctype


def _whole_numbers(axis: Axis) -> None:
    """Ticks at whole numbers only: the charts count things."""
    locator = axis.get_major_locator()
    if isinstance(locator, MaxNLocator):  # a linear axis's default locator (AutoLocator) is one
        locator.set_params(integer=True)


def bar_chart_svg(labels: list[str], values: list[int], *, title: str, ylabel: str) -> str:
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(6.5, 2.6))
        axes.bar(range(len(values)), values, color="#0b3d5c")
        # horizontal labels (rotated text is extracted letter by letter), thinned to about a dozen
        step = max(1, -(-len(labels) // 12))
        axes.set_xticks(range(0, len(labels), step), labels[::step])
        axes.set_ylabel(ylabel)
        axes.set_title(title, loc="left", fontsize=10)
        _whole_numbers(axes.yaxis)
        return _svg(figure)


def horizontal_bars_svg(
    labels: list[str],
    series: dict[str, list[float]],
    *,
    title: str,
    xlabel: str,
    xmax: float | None = None,
    unit: str = "",
) -> str:
    """Horizontal bars, one group per label and one bar per series, each bar labelled with its value (a missing
    value, NaN, is drawn as no bar and labelled "none due")."""
    colours = ["#0b3d5c", "#7a9bb0", "#c9d3da"]
    height = 0.8 / max(1, len(series))
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(6.5, 0.9 + 0.24 * len(labels) * max(1, len(series))))
        for n, (name, values) in enumerate(series.items()):
            ys = [i + (n - (len(series) - 1) / 2) * height for i in range(len(labels))]
            drawn = [0.0 if math.isnan(v) else v for v in values]
            bars = axes.barh(ys, drawn, height=height * 0.9, color=colours[n % len(colours)], label=name)
            texts = ["none due" if math.isnan(v) else f"{v:g}{unit}" for v in values]
            axes.bar_label(bars, texts, padding=3, fontsize=8)
        axes.set_yticks(range(len(labels)), labels)
        axes.invert_yaxis()  # the first label at the top, as in the table beside it
        axes.set_xlabel(xlabel)
        axes.set_title(title, loc="left", fontsize=10)
        top = xmax if xmax is not None else max([0.0, *(v for vs in series.values() for v in vs if not math.isnan(v))])
        axes.set_xlim(0, (top or 1) * 1.18)  # room for the value labels
        _whole_numbers(axes.xaxis)
        if len(series) > 1:
            axes.legend(frameon=False, fontsize=8, loc="lower right")
        return _svg(figure)


def events_per_month_svg(dates: Iterable[dt.date], title: str = "Key events per month") -> str | None:
    """A bar chart of the timeline's events per month; None for fewer than three events."""
    days = sorted(dates)
    if len(days) < 3:
        return None
    counts = Counter(d.strftime("%Y-%m") for d in days)
    months: list[str] = []
    year, month = days[0].year, days[0].month
    while (year, month) <= (days[-1].year, days[-1].month):
        months.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    labels = [dt.date.fromisoformat(f"{m}-01").strftime("%b %Y") for m in months]
    return bar_chart_svg(labels, [counts.get(m, 0) for m in months], title=title, ylabel="Events")
