"""A report document as a PDF (A4 landscape) with an embedded CJK font: the title, the
headline figures, the charts as bar charts, every table, the definitions."""

from __future__ import annotations

import io
import math
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import (
    Table as PdfTable,
)

from web.report_exports.document import Chart, Document, Kind, Msg, Table
from web.report_exports.fonts import report_font
from web.report_exports.labels import Labels

PAGE = landscape(A4)
MARGIN = 12 * mm
WIDTH = PAGE[0] - 2 * MARGIN
GRID = colors.HexColor("#b0bec5")
HEAD = colors.HexColor("#eceff1")
FLAG = colors.HexColor("#fdecea")
TOTAL = colors.HexColor("#eef2f7")


class _Styles:
    def __init__(self, font: str) -> None:
        self.title = ParagraphStyle("title", fontName=font, fontSize=18, leading=24)
        self.heading = ParagraphStyle(
            "heading", fontName=font, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4
        )
        self.body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
        self.cell = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5)
        self.note = ParagraphStyle(
            "note", fontName=font, fontSize=7.5, leading=10, textColor=colors.HexColor("#546e7a")
        )


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(table: Table, labels: Labels, styles: _Styles) -> list[object]:
    parts: list[object] = [_p(labels.t(table.title), styles.heading)]
    head = [_p(labels.t(c.label), styles.cell) for c in table.columns]
    body = [
        [_p(labels.cell(v, c.kind), styles.cell) for v, c in zip(row, table.columns, strict=True)]
        for row in table.rows
    ]
    if table.total is not None:
        body.append(
            [
                _p(labels.cell(v, c.kind), styles.cell)
                for v, c in zip(table.total, table.columns, strict=True)
            ]
        )
    if not table.rows:
        parts.append(_p(labels.t(Msg("reports.empty")), styles.body))
    else:
        weights = [
            3.0 if c.wide else 1.6 if c.kind in (Kind.TEXT, Kind.DATETIME) else 1.0
            for c in table.columns
        ]
        widths = [WIDTH * w / sum(weights) for w in weights]
        grid = PdfTable([head, *body], colWidths=widths, repeatRows=1)
        style = [
            ("GRID", (0, 0), (-1, -1), 0.4, GRID),
            ("BACKGROUND", (0, 0), (-1, 0), HEAD),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        for i, flagged in enumerate(table.flagged, start=1):
            if flagged:
                style.append(("BACKGROUND", (0, i), (-1, i), FLAG))
        if table.total is not None:
            style.append(("BACKGROUND", (0, len(body)), (-1, len(body)), TOTAL))
        grid.setStyle(TableStyle(style))
        parts.append(grid)
    if table.note is not None:
        parts.append(_p(labels.t(table.note), styles.note))
    return parts


def _chart(chart: Chart, labels: Labels, font: str) -> Drawing | None:
    if not chart.labels or not chart.series:
        return None
    height = 170.0
    drawing = Drawing(WIDTH / 2 - 6, height + 30)
    drawing.add(String(0, height + 16, labels.t(chart.title), fontName=font, fontSize=10))
    bars = HorizontalBarChart() if chart.horizontal else VerticalBarChart()
    bars.x, bars.y = 40 if not chart.horizontal else 70, 30
    bars.width, bars.height = drawing.width - bars.x - 110, height - 40
    bars.data = [[v or 0 for v in s.data] for s in chart.series]
    bars.categoryAxis.categoryNames = [labels.t(x) for x in chart.labels]
    bars.categoryAxis.labels.fontName = font
    bars.categoryAxis.labels.fontSize = 7
    bars.valueAxis.labels.fontName = font
    bars.valueAxis.labels.fontSize = 7
    bars.valueAxis.valueMin = 0
    if not chart.horizontal and len(chart.labels) > 6:
        bars.categoryAxis.labels.angle = 30
        bars.categoryAxis.labels.boxAnchor = "ne"
    if any(s.stack for s in chart.series):
        bars.categoryAxis.style = "stacked"
    stacked = any(s.stack for s in chart.series)
    peak = max(
        [
            0.0,
            *(
                sum(s.data[i] or 0 for s in chart.series)
                if stacked
                else max((s.data[i] or 0) for s in chart.series)
                for i in range(len(chart.labels))
            ),
        ]
    )
    if chart.threshold is not None:
        peak = max(peak, chart.threshold) * 1.15
    bars.valueAxis.valueMax = max(peak, 1)
    bars.valueAxis.valueStep = max(1, math.ceil(max(peak, 1) / 5))  # whole counts
    for i, series in enumerate(chart.series):
        bars.bars[i].fillColor = colors.HexColor(series.color or "#1565c0")
        bars.bars[i].strokeColor = None
    drawing.add(bars)
    if chart.threshold is not None and not chart.horizontal:
        top = bars.valueAxis.valueMax or chart.threshold
        y = bars.y + bars.height * chart.threshold / top
        drawing.add(
            Line(bars.x, y, bars.x + bars.width, y, strokeColor=colors.red, strokeDashArray=[3, 2])
        )
    legend = Legend()
    legend.x, legend.y = drawing.width - 100, height - 10
    legend.fontName, legend.fontSize = font, 7
    legend.colorNamePairs = [
        (colors.HexColor(s.color or "#1565c0"), labels.t(s.label)) for s in chart.series
    ]
    drawing.add(legend)
    return drawing


def render_pdf(document: Document, lang: str | None, *, font_path: Path | None) -> bytes:
    """The PDF; FontUnavailable when no CJK font can be embedded."""
    font = report_font(font_path).name
    labels = Labels(lang)
    styles = _Styles(font)
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=labels.t(document.title),
        author="callcentre",
    )
    story: list[object] = [
        _p(labels.t(document.title), styles.title),
        _p(labels.t(document.period), styles.body),
        _p(f"{labels.t(Msg('reports.as_of'))} {document.as_of:%Y-%m-%d %H:%M}", styles.note),
        Spacer(1, 6),
    ]
    facts = [
        [_p(labels.t(f.label), styles.cell), _p(labels.cell(f.value, f.kind), styles.body)]
        for f in document.facts
    ]
    per_row = 4
    grid = [
        [cell for fact in facts[i : i + per_row] for cell in fact]
        for i in range(0, len(facts), per_row)
    ]
    grid[-1] += [""] * (2 * per_row - len(grid[-1]))
    summary = PdfTable(grid, colWidths=[WIDTH / per_row * 0.62, WIDTH / per_row * 0.38] * per_row)
    summary.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.4, GRID), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
    )
    story.append(summary)
    drawings = [d for d in (_chart(c, labels, font) for c in document.charts) if d]
    for i in range(0, len(drawings), 2):
        pair = PdfTable([drawings[i : i + 2]], colWidths=[WIDTH / 2] * len(drawings[i : i + 2]))
        story.append(KeepTogether([Spacer(1, 6), pair]))
    for table in document.tables:
        story.extend(_table(table, labels, styles))
    story.append(_p(labels.t(Msg("reports.definitions")), styles.heading))
    story.extend(_p(labels.t(d), styles.note) for d in document.definitions)
    pdf.build(story)
    return buffer.getvalue()
