"""Charts (matplotlib: PNG, SVG) and workbooks (openpyxl, with native Excel charts) of figures.

Chinese labels need a CJK font, which servers rarely have: the Noto Sans CJK collection ships
as a Python package (`noto-cjk-sans-otc`, SIL OFL) and is registered with matplotlib on first
use; a system font with Chinese glyphs (fontconfig `:lang=zh`) serves when the package is
missing. With neither, charts fall back to the measure's and values' English names, so that no
chart is drawn as empty boxes. Workbooks need no font: Excel and WPS render Chinese text.
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from shared import clock
from shared.stats import schemas

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure


@functools.cache
def _matplotlib() -> Any:
    """matplotlib, imported on the first chart: it costs every worker process of every service
    about 35 MiB of memory, and few of them ever draw one."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    return matplotlib


def new_figure(**options: Any) -> MplFigure:
    from matplotlib.figure import Figure

    _matplotlib()
    return Figure(**options)


MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans CJK JP",
)


@functools.cache
def cjk_family() -> str | None:
    """The name of a font family with Chinese glyphs registered with matplotlib, or None."""
    from matplotlib import font_manager

    try:
        import noto_cjk_sans_otc

        font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
    except (ImportError, OSError, RuntimeError):
        pass
    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    return None


def freshness_text(at: datetime | None, chinese: bool = True) -> str:
    if at is None:
        return "暂无数据" if chinese else "no data yet"
    return clock.local(at).strftime("%Y-%m-%d %H:%M")


def _value(v: Decimal | None) -> float:
    return float(v) if v is not None else 0.0


def _label(labels: dict[str, dict[str, str]], dim: str, value: str | None, cjk: bool) -> str:
    if value is None:
        return "合计" if cjk else "total"
    return labels.get(dim, {}).get(value, value) if cjk else value


def _render(fig: MplFigure, fmt: str) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120, bbox_inches="tight")
    return buffer.getvalue()


def _titles(
    measure: schemas.MeasureInfo,
    when: str,
    scope: str,
    fresh: datetime | None,
    threshold: int,
    cjk: bool,
) -> tuple[str, str]:
    if cjk:
        return (
            f"{measure.label}（{measure.unit}）",
            f"{when}  统计范围：{scope}  数据截至：{freshness_text(fresh)}  "
            f"少于{threshold}人的格已隐藏（*）",
        )
    return (
        measure.name,
        f"{when}  scope: {scope}  data as of {freshness_text(fresh, False)}  "
        f"cells under {threshold} people hidden (*)",
    )


def _fonts() -> Any:
    """rc settings for a chart: the CJK family first (set per chart, so that every text of the
    figure, axis labels included, is created with it; no global state changes)."""
    family = cjk_family()
    return {"font.family": [family, "DejaVu Sans"]} if family else {}


#: rc_context changes matplotlib's global parameters while a chart is drawn: one chart at a time
#: (charts are drawn in worker threads).
_DRAWING = threading.Lock()


def figure_chart(data: schemas.Figure, fmt: str = "png") -> bytes:
    with _DRAWING, _matplotlib().rc_context(_fonts()):
        return _figure_chart(data, fmt)


def trend_chart(data: schemas.Trend, fmt: str = "png") -> bytes:
    with _DRAWING, _matplotlib().rc_context(_fonts()):
        return _trend_chart(data, fmt)


def _figure_chart(data: schemas.Figure, fmt: str) -> bytes:
    """Bars for each value of the first dimension (totals left out), grouped by the second."""
    cjk = cjk_family() is not None
    fig = new_figure(figsize=(10, 5.5))
    ax = fig.subplots()
    by = data.by
    cells = [c for c in data.cells if all(c.dims.get(d) is not None for d in by)]
    if len(by) <= 1:
        names = [_label(data.labels, by[0], c.dims[by[0]], cjk) if by else "" for c in cells]
        values = [_value(c.value) for c in cells]
        bars = ax.bar(range(len(cells)), values, color="#c0392b")
        for bar, cell in zip(bars, cells, strict=True):
            if cell.suppressed:
                ax.annotate("*", (bar.get_x() + bar.get_width() / 2, 0), ha="center", va="bottom")
        ax.set_xticks(
            range(len(cells)),
            names,
            rotation=45 if len(cells) > 6 else 0,
            ha="right" if len(cells) > 6 else "center",
        )
    else:
        first = [m for m in data.labels.get(by[0], {})]
        second = [m for m in data.labels.get(by[1], {})]
        width = 0.8 / max(1, len(second))
        lookup = {(c.dims[by[0]], c.dims[by[1]]): c for c in cells}
        for j, s in enumerate(second):
            xs = [i + j * width for i in range(len(first))]
            ys = [_value(lookup[(f, s)].value) if (f, s) in lookup else 0.0 for f in first]
            ax.bar(xs, ys, width, label=_label(data.labels, by[1], s, cjk))
            for x, f in zip(xs, first, strict=True):
                if (f, s) in lookup and lookup[(f, s)].suppressed:
                    ax.annotate("*", (x, 0), ha="center", va="bottom")
        ax.set_xticks(
            [i + 0.4 - width / 2 for i in range(len(first))],
            [_label(data.labels, by[0], f, cjk) for f in first],
            rotation=45 if len(first) > 6 else 0,
        )
        ax.legend(fontsize=8, ncol=2)
    title, subtitle = _titles(
        data.measure,
        data.period.label if cjk else data.period.key,
        data.scope.label if cjk else (data.scope.locality_code or "enterprise"),
        data.freshness,
        data.threshold,
        cjk,
    )
    fig.suptitle(title, fontsize=14)
    ax.set_title(subtitle, fontsize=8, color="#555555")
    ax.set_ylabel(data.measure.unit if cjk else "")
    return _render(fig, fmt)


def _trend_chart(data: schemas.Trend, fmt: str) -> bytes:
    """One line per series (the total thicker); suppressed points are gaps."""
    cjk = cjk_family() is not None
    fig = new_figure(figsize=(11, 5.5))
    ax = fig.subplots()
    xs = list(range(len(data.periods)))
    for series in data.series:
        ys = [float(p.value) if p.value is not None else float("nan") for p in series.points]
        total = all(v is None for v in series.dims.values())
        name = " ".join(_label(data.labels, d, v, cjk) for d, v in series.dims.items()) or (
            "合计" if cjk else "total"
        )
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=2.5 if total else 1.2, label=name)
    step = max(1, len(xs) // 12)
    ax.set_xticks(
        xs[::step],
        [(p.label if cjk else p.key) for p in data.periods][::step],
        rotation=45,
        ha="right",
    )
    if len(data.series) > 1:
        ax.legend(fontsize=8, ncol=3)
    when = (
        f"{data.periods[0].label}—{data.periods[-1].label}"
        if cjk
        else (f"{data.periods[0].key}..{data.periods[-1].key}")
    )
    title, subtitle = _titles(
        data.measure,
        when,
        data.scope.label if cjk else (data.scope.locality_code or "enterprise"),
        data.freshness,
        data.threshold,
        cjk,
    )
    fig.suptitle(title, fontsize=14)
    ax.set_title(subtitle, fontsize=8, color="#555555")
    ax.grid(alpha=0.3)
    return _render(fig, fmt)


# --- workbooks ------------------------------------------------------------------------------


def stamp(
    ws: Worksheet, title: str, period: str, scope: str, fresh: datetime | None, threshold: int
) -> int:
    """The heading every sheet carries: title, period, scope, freshness and the suppression
    rule. Returns the next free row."""
    ws["A1"] = title
    ws["A1"].font = Font(size=14, bold=True)
    ws["A2"] = f"统计期间：{period}"
    ws["A3"] = f"统计范围：{scope}"
    ws["A4"] = f"数据截至：{freshness_text(fresh)}"
    ws["A5"] = f"说明：少于{threshold}人的单元格及其互补单元格已隐藏（显示为“*”）。"
    return 7


def write_table(
    ws: Worksheet, row: int, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[int, int]:
    """A header and rows from `row`; suppressed values (None) are written as "*". Returns the
    first and last row of the data."""
    for j, h in enumerate(header, start=1):
        ws.cell(row=row, column=j, value=h).font = Font(bold=True)
    for i, values in enumerate(rows, start=row + 1):
        for j, v in enumerate(values, start=1):
            if isinstance(v, Decimal):
                v = int(v) if v == v.to_integral_value() else float(v)
            ws.cell(row=i, column=j, value="*" if v is None else v)
    return row + 1, row + len(rows)


def bar_chart(
    ws: Worksheet,
    title: str,
    header_row: int,
    first: int,
    last: int,
    columns: int,
    anchor: str,
    *,
    stacked: bool = False,
    unit: str = "",
) -> None:
    chart = BarChart()
    chart.title = title
    chart.y_axis.title = unit
    if stacked:
        chart.grouping = "stacked"
        chart.overlap = 100
    data = Reference(ws, min_col=2, max_col=columns, min_row=header_row, max_row=last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.width, chart.height = 22, 11
    ws.add_chart(chart, anchor)


def line_chart(
    ws: Worksheet,
    title: str,
    header_row: int,
    first: int,
    last: int,
    columns: int,
    anchor: str,
    unit: str = "",
) -> None:
    chart = LineChart()
    chart.title = title
    chart.y_axis.title = unit
    data = Reference(ws, min_col=2, max_col=columns, min_row=header_row, max_row=last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.width, chart.height = 22, 11
    ws.add_chart(chart, anchor)


def workbook_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
