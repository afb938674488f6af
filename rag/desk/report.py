"""A research result as the shared JSON (CLI and POST /v1/research), a Markdown report readable in a
terminal, and one self-contained HTML file (inline CSS and SVG chart, no scripts, no other files)."""

from __future__ import annotations

from dataclasses import asdict
from html import escape
from typing import Any

from rag.desk.escaping import markdown_link, markdown_text, safe_url
from rag.desk.research import Figure, MeasureFigures, Research

_UNIT_TEXT = {"pct": "%", "jpy": "円", "usd": "ドル", "eur": "ユーロ", "mm2": "mm²", "m2": "m²", "gb": "GB", "tb": "TB"}


def research_json(r: Research) -> dict[str, Any]:
    def figure(f: Figure) -> dict[str, Any]:
        return {"measure": f.measure, "value": f.value, "unit": f.unit, "text": f.text, "date": f.date,
                "source": f.source, "url": f.url, "sentence": f.sentence, "subject": f.subject, "period": f.period,
                "scope": f.scope, "high": f.high, "title": f.title}  # fmt: skip

    def grouped(items: list[MeasureFigures]) -> list[dict[str, Any]]:
        return [{"measure": m.measure, "figures": [figure(f) for f in m.figures]} for m in items]

    return {
        "topic": r.topic,
        "posts": [asdict(p) for p in r.posts],
        "timeline": [{"month": month, "count": n} for month, n in r.timeline],
        "figures": [figure(f) for f in r.figures],
        "changes": grouped(r.changes),
        "disagreements": grouped(r.disagreements),
        "took_ms": r.took_ms,
    }


def shown(f: Figure) -> str:
    """A figure as a reader compares it: normalized value and unit (8.028e11 jpy → 8,028億円; a range
    with both ends)."""
    unit = _UNIT_TEXT.get(f.unit, f.unit)

    def one(value: float) -> str:
        for size, word in ((1e12, "兆"), (1e8, "億"), (1e4, "万")):
            if abs(value) >= size:
                return f"{value / size:,.4g}{word}"
        return f"{value:,.4g}"

    return one(f.value) + (f"〜{one(f.high)}" if f.high is not None else "") + unit


def markdown(r: Research) -> str:
    lines = [
        f"# {markdown_text(r.topic)}",
        "",
        f"{len(r.posts)} posts, {len(r.figures)} figures ({r.took_ms:.0f} ms)",
        "",
    ]
    if r.timeline:
        top = max(n for _, n in r.timeline) or 1
        lines += ["## Posts per month", "", "```"]
        lines += [f"{month}  {'█' * round(20 * n / top):<20} {n}" for month, n in r.timeline]
        lines += ["```", ""]
    for heading, items in (("Disagreements", r.disagreements), ("Changes over time", r.changes)):
        if not items:
            continue
        lines += [f"## {heading}", ""]
        for m in items:
            whose = markdown_text(
                " · ".join(x for x in (m.figures[0].subject, m.figures[0].period, m.figures[0].scope) if x)
            )
            lines += [f"### {markdown_text(m.measure)}" + (f" — {whose}" if whose else ""), ""]
            lines += ["| date | value | post |", "| --- | --- | --- |"]
            lines += [f"| {f.date} | {shown(f)} | {markdown_link(f.title or f.source, f.url)} |" for f in m.figures]
            lines.append("")
    lines += ["## Posts", ""] + [f"- {p.date} {markdown_link(p.title, p.url)}" for p in r.posts]
    return "\n".join(lines) + "\n"


def _chart(timeline: list[tuple[str, int]]) -> str:
    if not timeline:
        return ""
    top, bar, height = max(n for _, n in timeline) or 1, 22, 120
    width = bar * len(timeline) + 40
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 40}" role="img" aria-label="posts per month">']
    for i, (month, n) in enumerate(timeline):
        h = round(height * n / top)
        x = 30 + i * bar
        rect = f'<rect x="{x}" y="{height - h + 10}" width="{bar - 4}" height="{h}">'
        parts.append(f"{rect}<title>{month}: {n}</title></rect>")
        if n:
            parts.append(f'<text x="{x + (bar - 4) / 2}" y="{height - h + 6}" class="n">{n}</text>')
        if i % 3 == 0:
            parts.append(f'<text x="{x}" y="{height + 28}" class="m">{month}</text>')
    return "".join(parts) + "</svg>"


def _figure_rows(figures: list[Figure]) -> str:
    return "".join(
        f"<tr><td>{escape(f.date)}</td><td>{escape(f.subject or '—')}</td><td>{escape(f.measure)}</td>"
        f"<td>{escape(' · '.join(x for x in (f.scope, f.period) if x) or '—')}</td>"
        f"<td class='v'>{escape(shown(f))}</td>"
        f"<td>{_link(f.title or f.source, f.url)}<div class='s'>{escape(f.sentence)}</div></td></tr>"
        for f in figures
    )


def _link(text: str, url: str) -> str:
    """An http(s) link, or the text alone: a post's permalink may be anything its author wrote."""
    target = safe_url(url)
    return f"<a href='{escape(target)}'>{escape(text)}</a>" if target else escape(text)


def html(r: Research) -> str:
    head = "<tr><th>date</th><th>whose</th><th>measure</th><th>scope</th><th>value</th><th>post and sentence</th></tr>"
    sections = [f"<h1>{escape(r.topic)}</h1><p>{len(r.posts)} posts, {len(r.figures)} figures</p>",
                f"<h2>Posts per month</h2>{_chart(r.timeline)}"]  # fmt: skip
    for heading, items in (("Disagreements", r.disagreements), ("Changes over time", r.changes)):
        if items:
            sections.append(f"<h2>{heading}</h2>")
            sections += [f"<h3>{escape(m.measure)}</h3><table>{head}{_figure_rows(m.figures)}</table>" for m in items]
    sections.append(f"<h2>All figures</h2><table>{head}{_figure_rows(r.figures)}</table>")
    posts = "".join(f"<li>{escape(p.date)} {_link(p.title, p.url)}</li>" for p in r.posts)
    sections.append(f"<h2>Posts</h2><ol>{posts}</ol>")
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;width:100%;margin-bottom:1em}td,th{border:1px solid #ddd;padding:4px 6px;"
        "vertical-align:top;font-size:14px}.v{white-space:nowrap;font-weight:bold}.s{color:#666;font-size:12px}"
        ".chart{width:100%;max-height:220px}.chart rect{fill:#1a56db}.chart text{font-size:9px;fill:#444}"
        ".chart .n{text-anchor:middle}a{color:#1a56db}"
    )
    return (
        f"<!doctype html><html lang='ja'><head><meta charset='utf-8'><title>{escape(r.topic)}</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )
