"""The fulfilment report of an allocated round (完成情况): per zone and category, the quota
against what was achieved — applications, eligible, admitted, certificates issued and used
(报到 / 入户, as the office records it) — and the points of those who applied, drawn as a
server-side SVG (no script needed). The city's figures are the zones' summed; the year's report
sums every allocated round of the year by kind. The dashboard is OpenCRVS's completeness by
area, for a points round."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

import orjson
from sqlmodel import Session, func, select

from app.applications.models import Application
from app.rounds.models import AllocationRun, Outcome

BINS = 10  # bars of the points distribution


@dataclass(frozen=True)
class Line:
    zone: str  # the zone's name, or "全市"
    category: str
    quota: int
    applications: int
    eligible: int
    admitted: int
    cutoff: float | int | None
    certified: int = 0  # valid certificates issued
    used: int = 0  # of them, registered (入户) or enrolled (报到)

    @property
    def fulfilled(self) -> str:
        """Admitted against the quota, as the 考核 reads it."""
        return f"{self.admitted / self.quota:.0%}" if self.quota else "—"

    @property
    def taken_up(self) -> str:
        """Registered or enrolled against the quota: what the plan finally achieved."""
        return f"{self.used / self.quota:.0%}" if self.quota else "—"


def lines(session: Session, run: AllocationRun, config: dict) -> list[Line]:
    result = orjson.loads(run.result)
    zones = {z["id"]: z.get("name", z["id"]) for z in config["zones"]}
    categories = {c["id"]: c.get("name", c["id"]) for c in config["categories"]}
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for zone, category, status, n in session.exec(
        select(Outcome.zone_id, Outcome.category, Outcome.status, func.count())
        .where(Outcome.run_id == run.id)
        .group_by(Outcome.zone_id, Outcome.category, Outcome.status)
    ).all():
        counts.setdefault((zone, category), {})[status] = n
    cutoffs = {
        (c["zone"], c["category"]): c["points"] for c in result["cutoffs"] if c["school"] is None
    }
    certified = _certificate_counts(session, run.round_id)
    out = []
    for category in config["categories"]:
        rows = []
        for zone in config["zones"]:
            n = counts.get((zone["id"], category["id"]), {})
            rows.append(
                Line(
                    zones[zone["id"]],
                    categories[category["id"]],
                    result["quotas"].get(category["id"], {}).get(zone["id"], 0),
                    sum(n.values()),
                    n.get("admitted", 0) + n.get("not_admitted", 0),
                    n.get("admitted", 0),
                    cutoffs.get((zone["id"], category["id"])),
                    *certified.get((zone["id"], category["id"]), (0, 0)),
                )
            )
        out.extend(rows)
        out.append(
            Line(
                "全市",
                categories[category["id"]],
                category["total"],
                sum(r.applications for r in rows),
                sum(r.eligible for r in rows),
                sum(r.admitted for r in rows),
                None,
                sum(r.certified for r in rows),
                sum(r.used for r in rows),
            )
        )
    return out


def _certificate_counts(session: Session, round_id: str) -> dict[tuple[str, str], tuple[int, int]]:
    from app.certificates.models import Certificate

    return {
        (zone, category): (issued, used or 0)
        for zone, category, issued, used in session.exec(
            select(
                Certificate.zone_id, Certificate.category, func.count(),
                func.count(Certificate.used_on),
            )
            .where(Certificate.round_id == round_id, Certificate.state == "valid")
            .group_by(Certificate.zone_id, Certificate.category)
        ).all()
    }  # fmt: skip


KIND_NAMES = {"school": "积分入学", "household": "积分入户"}


def year_lines(session: Session, year: int) -> list[tuple[str, list[Line]]]:
    """The year's report: each allocated round of the year (its current run), then per kind of
    programme the zones summed over the rounds, against the year's total quota."""
    from app.rounds.allocation import current_run
    from app.rounds.models import Round
    from app.rounds.operations import round_config

    sections: list[tuple[str, list[Line]]] = []
    totals: dict[str, dict[str, list[Line]]] = {}
    for round_ in session.exec(select(Round).where(Round.year == year).order_by(Round.id)).all():
        run = current_run(session, round_.id)
        if run is None:
            continue
        config = round_config(session, round_)
        found = lines(session, run, config)
        sections.append((round_.name, found))
        kinds = {c.get("name", c["id"]): c["kind"] for c in config["categories"]}
        for line in found:
            totals.setdefault(kinds[line.category], {}).setdefault(line.zone, []).append(line)
    for kind, by_zone in totals.items():
        summed = [
            Line(zone, KIND_NAMES.get(kind, kind), *(sum(getattr(x, f) for x in same)
                 for f in ("quota", "applications", "eligible", "admitted")), None,
                 sum(x.certified for x in same), sum(x.used for x in same))
            for zone, same in sorted(by_zone.items(), key=lambda item: item[0] == "全市")
        ]  # fmt: skip
        sections.append((f"{year} 年{KIND_NAMES.get(kind, kind)}合计", summed))
    return sections


def distribution_svg(session: Session, run: AllocationRun, zone: str, cutoff) -> str:
    """A bar chart of the zone's verified ranking scores, with its cut-off as a line."""
    cents = [
        c or 0
        for c in session.exec(
            select(Application.ranking_cents).where(
                Application.round_id == run.round_id, Application.zone_id == zone,
                Application.status == "scored",
            )
        ).all()
    ]  # fmt: skip
    width, height, pad = 320, 120, 18
    if not cents:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="没有符合条件的申请"></svg>'
        )
    low, high = min(cents), max(cents)
    step = max(1, -(-(high - low + 1) // BINS))
    bars = [0] * BINS
    for c in cents:
        bars[min(BINS - 1, (c - low) // step)] += 1
    tallest = max(bars)
    bar_w = (width - 2 * pad) / BINS
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="积分分布：{len(cents)} 人，{low / 100:g} 至 {high / 100:g} 分">'
    ]
    for k, n in enumerate(bars):
        h = (height - 2 * pad) * n / tallest
        x, y = pad + k * bar_w, height - pad - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
            f'fill="#1f3a5f"><title>{(low + k * step) / 100:g}–{(low + (k + 1) * step) / 100:g}'
            f" 分：{n} 人</title></rect>"
        )
    if cutoff is not None:
        x = pad + (width - 2 * pad) * min(1.0, max(0.0, (cutoff * 100 - low) / (step * BINS)))
        parts.append(
            f'<line x1="{x:.1f}" y1="{pad / 2}" x2="{x:.1f}" y2="{height - pad}" '
            f'stroke="#b3261e" stroke-width="2"/><text x="{x + 3:.1f}" y="{pad - 4}" '
            f'font-size="11" fill="#b3261e">最低 {escape(f"{cutoff:g}")} 分</text>'
        )
    parts.append(
        f'<text x="{pad}" y="{height - 4}" font-size="11">{low / 100:g}</text>'
        f'<text x="{width - pad}" y="{height - 4}" font-size="11" text-anchor="end">'
        f"{high / 100:g}</text></svg>"
    )
    return "".join(parts)


HEADER = ["镇街", "类别", "指标", "申请", "符合条件", "拟录取/入户", "完成率", "最低分",
          "已发通知书", "已报到/入户", "落实率"]  # fmt: skip


def workbook(report: list[Line], sections: list[tuple[str, list[Line]]] | None = None) -> bytes:
    """The report as XLSX: one sheet, or one a section (the year's report)."""
    from io import BytesIO

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for title, rows in sections or [("完成情况", report)]:
        # Excel refuses / \\ ? * [ ] : in a sheet's name, and more than 31 characters
        sheet = book.create_sheet(re.sub(r"[/\\?*\[\]:]", "_", title)[:31])
        sheet.append(HEADER)
        for r in rows:
            sheet.append([r.zone, r.category, r.quota, r.applications, r.eligible, r.admitted,
                          r.fulfilled, r.cutoff, r.certified, r.used, r.taken_up])  # fmt: skip
    out = BytesIO()
    book.save(out)
    return out.getvalue()
