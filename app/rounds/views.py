"""The office home (the rounds, with the counts of the actor's own applications) and a round's
steps for the city: allocate (a background job), 公示, finalize."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlmodel import func, select

from app.accounts.web import current_actor, expired_job, guard, refuse, require
from app.applications.models import Application
from app.applications.operations import NotFound, Refused, visible
from app.audit.operations import record
from app.db import commit_request, request_session
from app.localtime import beijing_today
from app.publicity import operations as publicity
from app.rounds.allocation import current_run
from app.rounds.export import unsettled_by_zone
from app.rounds.models import AllocationRun, Round
from app.rounds.operations import round_config, status

bp = Blueprint("rounds", __name__, url_prefix="/office")
bp.before_request(guard)

STATUS_LABELS = {
    "draft": "未开始", "open": "受理中", "closed": "已截止", "allocated": "已分配",
    "published": "公示中", "finalized": "已完成",
}  # fmt: skip


@bp.get("/")
def home():
    db = request_session()
    actor = current_actor()
    counts = dict(
        db.exec(
            visible(select(Application.round_id, func.count()), actor).group_by(
                Application.round_id
            )
        ).all()
    )
    today = beijing_today()
    rounds = [
        {"round": r, "status": STATUS_LABELS[status(r, today)], "count": counts.get(r.id, 0)}
        for r in db.exec(select(Round).order_by(Round.year.desc(), Round.id)).all()
    ]
    return render_template("office/home.html", rounds=rounds)


# ---- one round: its steps (the city) --------------------------------------------------------


def _jobs() -> Path:
    folder = Path(current_app.instance_path) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _round_page(round_, error: str = "", status_code: int = 200):
    db = request_session()
    config = round_config(db, round_)
    today = beijing_today()
    runs = db.exec(
        select(AllocationRun).where(AllocationRun.round_id == round_.id)
        .order_by(AllocationRun.number.desc())
    ).all()  # fmt: skip
    page = render_template(
        "office/round.html", round=round_, config=config, status=status(round_, today),
        status_labels=STATUS_LABELS, unsettled=unsettled_by_zone(db, round_.id),
        zone_names={z["id"]: z.get("name", z["id"]) for z in config["zones"]}, runs=runs,
        window_over=today > round_.window_end, error=error,
        publicity_ends=publicity.publicity_ends(round_, config),
        objections_end=publicity.objections_end(round_, config),
        changes=publicity.changes_from_previous(db, runs[0], config) if runs else None,
    )  # fmt: skip
    return page, status_code


def _city_round(round_id: str) -> Round:
    require("admin", "auditor")
    found = request_session().get(Round, round_id)
    if found is None:
        abort(404)
    return found


@bp.get("/rounds/<round_id>")
def round_steps(round_id: str):
    return _round_page(_city_round(round_id))


@bp.post("/rounds/<round_id>/allocate")
def allocate(round_id: str):
    """The allocation runs as a background job; the page that follows shows where it is."""
    from app.jobfiles import new_token, write_state
    from app.jobs import allocate_job

    require("admin")
    round_ = _city_round(round_id)
    actor = current_actor()
    reason = request.form.get("reason", "").strip()
    if current_run(request_session(), round_id) is not None and not reason:
        return _round_page(
            round_, "本轮已分配。重新分配须写明原因，如：异议复核后分数有变动。", 422
        )
    token = new_token(_jobs(), actor.user_id)
    write_state(_jobs(), token, {"status": "queued", "round": round_id, "owner": actor.user_id})
    record(request_session(), actor, "round.allocate.queued", object_type="round",
           object_id=round_id)  # fmt: skip
    commit_request()
    allocate_job(
        token, str(_jobs()),
        {"username": actor.username, "role": actor.role, "zones": sorted(actor.zones),
         "department": actor.department, "user_id": actor.user_id},
        round_id, reason,
    )  # fmt: skip
    return redirect(url_for("rounds.allocation_progress", round_id=round_id, token=token), 303)


@bp.get("/rounds/<round_id>/jobs/<token>")
def allocation_progress(round_id: str, token: str):
    from app.jobfiles import EXPIRED, read_own_state

    round_ = _city_round(round_id)
    state = read_own_state(_jobs(), token, current_actor().user_id)
    if state is None:
        refuse("round.allocate.progress", "job", "")
    if state == EXPIRED:
        return expired_job("这次分配的进度记录已过期删除；分配结果请在本轮页面查看。")
    kinds = {c["kind"] for c in round_config(request_session(), round_)["categories"]}
    words = {  # what the counts are called, by the round's kinds of category
        frozenset({"school"}): ("拟录取", "未录取"),
        frozenset({"household"}): ("拟入户", "未获入户指标"),
    }.get(frozenset(kinds), ("拟录取或拟入户", "未录取或未获入户指标"))
    return render_template("office/round_job.html", round=round_, state=state, words=words)


@bp.post("/rounds/<round_id>/<step>")
def step(round_id: str, step: str):
    """公示 and 完成: quick steps, taken in the request."""
    require("admin")
    round_ = _city_round(round_id)
    act = {"publish": publicity.publish, "finalize": publicity.finalize}.get(step)
    if act is None:
        abort(404)
    db = request_session()
    try:
        act(db, current_actor(), round_id, today=beijing_today())
    except (Refused, NotFound) as exc:
        db.rollback()
        return _round_page(round_, getattr(exc, "zh", ""), 422)
    commit_request()
    return redirect(url_for("rounds.round_steps", round_id=round_id), 303)


@bp.get("/rounds/<round_id>/report")
def report(round_id: str):
    """完成情况: quota against what was achieved, per zone and for the city; ?format=xlsx."""
    from app.rounds import report as fulfilment

    round_ = _city_round(round_id)
    db = request_session()
    run = current_run(db, round_id)
    if run is None:
        return _round_page(round_, "本轮尚未分配，还没有完成情况。", 404)
    config = round_config(db, round_)
    lines = fulfilment.lines(db, run, config)
    if request.args.get("format") == "xlsx":
        return (
            fulfilment.workbook(lines),
            200,
            {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "Content-Disposition": f'attachment; filename="{round_id}-report.xlsx"'},
        )  # fmt: skip
    first = config["categories"][0]["id"]
    cutoffs = {
        c["zone"]: c["points"]
        for c in publicity.run_cutoffs(run)
        if c["school"] is None and c["category"] == first
    }
    charts = [
        (z.get("name", z["id"]),
         fulfilment.distribution_svg(db, run, z["id"], cutoffs.get(z["id"])))
        for z in config["zones"]
    ]  # fmt: skip
    return render_template("office/report.html", round=round_, run=run, lines=lines,
                           charts=charts)  # fmt: skip


@bp.get("/reports/<int(min=2000, max=2999):year>")
def year_report(year: int):
    """The year's fulfilment: every allocated round of the year, then each kind's zones summed;
    ?format=xlsx."""
    from app.rounds import report as fulfilment

    require("admin", "auditor")
    sections = fulfilment.year_lines(request_session(), year)
    if not sections:
        abort(404)
    if request.args.get("format") == "xlsx":
        return (
            fulfilment.workbook([], sections),
            200,
            {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "Content-Disposition": f'attachment; filename="jifen-{year}-report.xlsx"'},
        )  # fmt: skip
    return render_template("office/year_report.html", year=year, sections=sections)
