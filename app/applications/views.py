"""The applications of a round: the list (filters, sorting, pages), one application, unmasking
with a reason, and the import page."""

from __future__ import annotations

import io
from decimal import Decimal, InvalidOperation
from pathlib import Path

import orjson
from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlmodel import select

from app.accounts.models import DEPARTMENTS
from app.accounts.web import (
    audit_refusal,
    current_actor,
    expired_job,
    guard,
    keys,
    refuse,
    require,
)
from app.applications import operations as ops
from app.applications.importer import ImportRefused, Upload, import_applications, report_bytes
from app.audit.operations import record, utcnow
from app.db import commit_request, request_session
from app.jobfiles import (
    EXPIRED,
    FILES_KEPT_SECONDS,
    new_token,
    owns,
    read_own_state,
    read_sealed,
    report_path,
    upload_path,
    write_sealed,
    write_state,
)
from app.localtime import beijing_today
from app.protect import decrypt, lookup_hash, mask_id, mask_name, mask_phone, normal_name
from app.rounds.models import Round, RoundZone
from app.rounds.operations import round_config
from scoring.facts import FACT_SPECS

bp = Blueprint("applications", __name__, url_prefix="/office")
bp.before_request(guard)

STATUS_LABELS = {
    "submitted": "已提交",
    "verifying": "核验中",
    "returned": "退回补正",
    "scored": "已定分",
    "ineligible": "不符合条件",
}
SHOWN_PROBLEMS = 200  # on the page; the report holds every one
STATE_LABELS = {
    "claimed": "待核验",
    "confirmed": "已确认",
    "corrected": "已更正",
    "rejected": "不予认定",
}


def fact_text(name: str, stored: str) -> str:
    """A stored fact value (JSON) as a clerk reads it: 本科, 是, 36 个月."""
    spec = FACT_SPECS[name]
    value = orjson.loads(stored)
    if spec.kind == "enum":
        return spec.choice_label(value)
    if spec.kind == "bool":
        return "是" if value else "否"
    if value is None:
        return "—"
    return f"{value} {spec.unit}".strip()


def _round(round_id: str) -> Round:
    found = request_session().get(Round, round_id)
    if found is None:
        abort(404)
    return found


def _points(text: str) -> int | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return int(value * 100) if value.is_finite() and abs(value) < 10**9 else None


@bp.get("/rounds/<round_id>/applications")
def listing(round_id: str):
    round_ = _round(round_id)
    db = request_session()
    actor = current_actor()
    args = request.args
    zone = args.get("zone", "")
    if zone and not actor.sees_zone(zone):
        refuse("applications.list", "zone", zone, zone)
    q = args.get("q", "").strip()
    filters = ops.Filters(
        zone=zone,
        category=args.get("category", ""),
        status=args.get("status", ""),
        min_points=_points(args.get("min", "")) if args.get("min") else None,
        max_points=_points(args.get("max", "")) if args.get("max") else None,
        number=q if q.upper().startswith(round_.number_prefix) else "",
        name_hash=lookup_hash(keys(), "name", normal_name(q))
        if q and not q.upper().startswith(round_.number_prefix)
        else "",
        sort=args.get("sort", "points"),
        page=args.get("page", 1, type=int) or 1,
    )
    rows, total = ops.search(db, actor, round_id, filters)
    if filters.number and not total and ops.exists(db, filters.number):
        # A number of another zone: the same empty answer as a number that does not exist.
        audit_refusal("applications.search", "application", filters.number)
    zones = [
        z
        for z in db.exec(select(RoundZone.zone_id).where(RoundZone.round_id == round_id)).all()
        if actor.sees_zone(z)
    ]
    config = round_config(db, round_)
    pages = max(1, -(-total // ops.PAGE_SIZE))
    return render_template(
        "office/applications.html", round=round_, rows=rows, total=total, filters=filters,
        q=q, zones=zones, categories=config["categories"], pages=pages,
        status_labels=STATUS_LABELS, args=args,
        zone_names={z["id"]: z.get("name", z["id"]) for z in config["zones"]},
        category_names={c["id"]: c.get("name", c["id"]) for c in config["categories"]},
    )  # fmt: skip


def _application(application_no: str):
    try:
        return ops.get_application(request_session(), current_actor(), application_no)
    except ops.NotFound:
        refuse("application.view", "application", application_no)


@bp.get("/applications/<application_no>")
def detail(application_no: str):
    application = _application(application_no)
    return detail_page(application, shown=None)


def error_page(message: str):
    return render_template("office/message.html", message=message)


def detail_page(
    application,
    shown,
    settle_error: tuple[str, str] | None = None,
    return_error: str = "",
    choices_error: str = "",
    certificate_error: str = "",
):
    """The detail page; `settle_error`: (fact, message) of a reviewer's refused decision."""
    db = request_session()
    actor = current_actor()
    info = ops.detail(db, actor, application)
    round_ = db.get(Round, application.round_id)
    config = round_config(db, round_)
    school_names = {s["id"]: s.get("name", s["id"]) for s in config.get("schools", [])}
    own_schools = [
        (s["id"], s.get("name", s["id"]))
        for s in config.get("schools", [])
        if (s["zone"], s["category"]) == (application.zone_id, application.category)
    ]
    choices = {
        "schools": own_schools,
        "count": min(len(own_schools), config.get("max_choices") or len(own_schools)),
        "names": school_names,
        "sealed": beijing_today() > round_.window_end,
        "can_correct": bool(own_schools)
        and not round_.allocated
        and (actor.is_city or (actor.role == "clerk" and beijing_today() <= round_.window_end)),
        "error": choices_error,
    }
    applicant = info["applicant"]
    k = keys()
    name = decrypt(k, "name", applicant.name_enc)
    masked = {
        "name": mask_name(name),
        "id_number": mask_id(decrypt(k, "id_number", applicant.id_number_enc)),
        "phone": mask_phone(decrypt(k, "phone", applicant.phone_enc))
        if applicant.phone_enc
        else "",
    }
    return render_template(
        "office/application.html", application=application, info=info, masked=masked,
        shown=shown, FACT_SPECS=FACT_SPECS, status_labels=STATUS_LABELS,
        state_labels=STATE_LABELS, can_unmask=current_actor().role in ("admin", "clerk"),
        fact_text=fact_text, departments=DEPARTMENTS, settle_error=settle_error,
        settled=request.args.get("settled", ""),
        can_settle=current_actor().role == "reviewer" and application.status == "verifying",
        changes=ops.pending_changes(request_session(), application),
        can_return=current_actor().role in ("clerk", "reviewer")
        and application.status == "verifying",
        return_error=return_error, choices=choices,
        held_by=ops.holder(application, utcnow()), hold_minutes=ops.HOLD_MINUTES,
        objections=_objections(db, application),
        certificates=_certificates(db, application), certificate_error=certificate_error,
        today=beijing_today(),
        can_hold=actor.role in ("admin", "clerk", "reviewer"),
        zone_names={z["id"]: z.get("name", z["id"]) for z in config["zones"]},
        category_names={c["id"]: c.get("name", c["id"]) for c in config["categories"]},
    )  # fmt: skip


def _certificates(db, application) -> list:
    from app.certificates.operations import of_application

    return of_application(db, application)


def _objections(db, application) -> list:
    from app.objections.models import Objection

    return db.exec(
        select(Objection).where(Objection.application_id == application.id).order_by(Objection.id)
    ).all()


@bp.post("/applications/<application_no>/hold")
def hold(application_no: str):
    """ "我来处理": the application shows as being worked on by this user."""
    require("admin", "clerk", "reviewer")
    try:
        ops.hold(request_session(), current_actor(), application_no)
    except ops.NotFound:
        refuse("application.hold", "application", application_no)
    commit_request()
    return redirect(url_for("applications.detail", application_no=application_no), 303)


@bp.post("/applications/<application_no>/release")
def release(application_no: str):
    require("admin", "clerk", "reviewer")
    db = request_session()
    try:
        ops.release(db, current_actor(), application_no)
    except ops.NotFound:
        refuse("application.release", "application", application_no)
    except ops.Refused as exc:
        db.rollback()
        return error_page(exc.zh), 422
    commit_request()
    return redirect(url_for("applications.detail", application_no=application_no), 303)


@bp.post("/applications/<application_no>/unmask")
def unmask(application_no: str):
    """The clear ID number and phone of one record, for a stated reason: an audit entry."""
    require("admin", "clerk")
    application = _application(application_no)
    reason = request.form.get("reason", "").strip()
    if len(reason) < 4:
        return detail_page(application, shown={"error": "请填写查看原因（至少 4 个字）"}), 422
    db = request_session()
    applicant = ops.detail(db, current_actor(), application)["applicant"]
    k = keys()
    shown = {
        "id_number": decrypt(k, "id_number", applicant.id_number_enc),
        "phone": decrypt(k, "phone", applicant.phone_enc) if applicant.phone_enc else "",
        "name": decrypt(k, "name", applicant.name_enc),
    }
    record(
        db,
        current_actor(),
        "applicant.unmask",
        object_type="application",
        object_id=application_no,
        zone=application.zone_id,
        diff={"reason": reason[:200]},
    )
    commit_request()
    return detail_page(application, shown=shown)


# ---- import ---------------------------------------------------------------------------------


def _reports() -> Path:
    folder = Path(current_app.instance_path) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@bp.route("/import", methods=["GET", "POST"])
def import_page():
    require("admin", "clerk")
    db = request_session()
    rounds = [r for r in db.exec(select(Round).order_by(Round.id)).all() if not r.allocated]
    if request.method == "GET":
        return render_template("office/import.html", rounds=rounds, outcome=None)
    upload = request.files.get("file")
    round_id = request.form.get("round", "")
    suffix = Path(upload.filename or "").suffix.lower() if upload else ""
    if upload is None or suffix not in (".csv", ".xlsx"):
        outcome = {"problems": ["请选择 .csv 或 .xlsx 文件"], "report": None, "problem_count": 1}
        return render_template("office/import.html", rounds=rounds, outcome=outcome), 422
    dry_run = request.form.get("dry_run") == "1"
    size = upload.stream.seek(0, 2)
    upload.stream.seek(0)
    if size > current_app.config["JIFEN_IMPORT_INLINE_BYTES"]:
        return _import_in_background(upload, suffix, round_id, dry_run)
    try:
        done = import_applications(
            db, current_actor(), round_id, Upload(f"upload{suffix}", upload.read()), keys(),
            today=beijing_today(), dry_run=dry_run,
        )  # fmt: skip
    except ImportRefused as refused:
        db.rollback()
        token = None
        if refused.sheet is not None:
            token = new_token(_reports(), current_actor().user_id)
            report = report_bytes(refused.sheet, refused.problems)
            write_sealed(keys(), report_path(_reports(), token), report)
        outcome = {
            "problems": [str(p) for p in refused.problems[:SHOWN_PROBLEMS]],
            "problem_count": len(refused.problems),
            "report": token,
        }
        return render_template("office/import.html", rounds=rounds, outcome=outcome), 422
    commit_request()
    outcome = {"done": done, "dry_run": dry_run, "round": round_id}
    return render_template("office/import.html", rounds=rounds, outcome=outcome)


def _import_in_background(upload, suffix: str, round_id: str, dry_run: bool):
    """A large file goes to the job queue; the page that follows shows its progress."""
    from app.jobs import import_job

    actor = current_actor()
    token = new_token(_reports(), actor.user_id)
    path = upload_path(_reports(), token, suffix)
    write_sealed(keys(), path, upload.read())
    write_state(_reports(), token, {"status": "queued", "round": round_id, "owner": actor.user_id})
    record(request_session(), actor, "import.queued", object_type="round", object_id=round_id)
    commit_request()
    import_job(
        token,
        str(_reports()),
        {"username": actor.username, "role": actor.role, "zones": sorted(actor.zones),
         "department": actor.department, "user_id": actor.user_id},
        round_id,
        str(path),
        dry_run,
    )  # fmt: skip
    return redirect(url_for("applications.import_progress", token=token))


@bp.get("/import/jobs/<token>")
def import_progress(token: str):
    """Where a background import stands (refreshing itself until it is finished)."""
    state = read_own_state(_reports(), token, current_actor().user_id)
    if state is None:
        refuse("import.progress", "job", "")
    if state == EXPIRED:
        return expired_job("这次导入的进度记录已过期删除；导入的申请请在申请列表中查看。")
    outcome = None
    if state["status"] == "refused":
        outcome = {
            "problems": state["problems"][:SHOWN_PROBLEMS],
            "problem_count": state["problem_count"],
            "report": token if state.get("report") else None,
        }
    elif state["status"] == "done":
        outcome = {"done": state, "dry_run": state.get("dry_run"), "round": state["round"]}
    return render_template("office/import_progress.html", state=state, outcome=outcome)


@bp.get("/import/report/<token>")
def import_report(token: str):
    """The report of a refused import: only for the person who uploaded the file."""
    if not owns(token, current_actor().user_id):
        refuse("import.report", "report", "")
    report = read_sealed(keys(), report_path(_reports(), token))
    if report is None:  # its own report, removed after FILES_KEPT_SECONDS
        hours = FILES_KEPT_SECONDS // 3600
        message = (
            f"这份检查报告已过期删除（报告保留 {hours} 小时），请重新导入该文件，生成新的报告。"
        )
        return expired_job(message)
    record(request_session(), current_actor(), "import.report", object_type="report")
    commit_request()
    return send_file(
        io.BytesIO(report),
        as_attachment=True,
        download_name="导入检查报告.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
