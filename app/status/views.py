"""`/status`: an applicant looks up their application (POST only: nothing personal in a URL)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template, request
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.accounts.models import DEPARTMENTS
from app.accounts.web import keys
from app.applications.models import Application
from app.applications.views import STATE_LABELS, STATUS_LABELS, fact_text
from app.db import commit_request, request_session
from app.localtime import beijing_today
from app.public.forms import AnswerError, form_class
from app.rounds.models import Round
from app.rounds.operations import round_config
from app.status import operations as ops
from scoring.facts import FACT_SPECS
from scoring.tables import get_table

bp = Blueprint("status", __name__)
NOT_MATCHED = "未找到或信息不匹配。请核对受理编号、身份证号和姓名；多次不符将暂停查询一段时间。"


class LookupForm(FlaskForm):
    class Meta:
        locales = ("zh_CN", "zh")

    application_no = StringField("受理编号", [DataRequired(), Length(max=40)])
    id_number = StringField("身份证号", [DataRequired(), Length(max=18)])
    name = StringField("姓名", [DataRequired(), Length(max=50)])


TOKEN_MINUTES = 30  # how long a looked-up status page may send a correction


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="jifen.status/1")


@bp.get("/status")
def lookup():
    return render_template("status_lookup.html", form=LookupForm(formdata=None), message="")


@bp.post("/status")
def status():
    form = LookupForm()
    if not form.validate():
        return render_template("status_lookup.html", form=form, message=""), 422
    db = request_session()
    try:
        application = ops.find(
            db, keys(), form.application_no.data, form.id_number.data, form.name.data
        )
    except ops.NotMatched:
        commit_request()  # the failure is counted (and audited) whatever the answer
        blank = LookupForm(formdata=None)
        return render_template("status_lookup.html", form=blank, message=NOT_MATCHED), 404
    commit_request()
    return _status_page(application)


def _looked_up():
    """The application the page's signed token stands for (a lookup within TOKEN_MINUTES)."""
    try:
        number = _signer().loads(request.form.get("t", ""), max_age=TOKEN_MINUTES * 60)
    except BadSignature:
        return None
    query = select(Application).where(Application.application_no == number)
    return request_session().exec(query).one()


def _expired(doing: str):
    blank = LookupForm(formdata=None)
    message = f"页面已超过 30 分钟或已失效，请重新查询后再{doing}。"
    return render_template("status_lookup.html", form=blank, message=message), 400


@bp.post("/status/correct")
def correct():
    """A returned application corrected by its applicant, from the page their lookup opened
    (a signed token of the number, valid for TOKEN_MINUTES, stands for that lookup)."""
    db = request_session()
    application = _looked_up()
    if application is None:
        return _expired("补正")
    round_ = db.get(Round, application.round_id)
    facts_form = form_class(get_table(round_.table_id))()
    problems = send_correction(application, facts_form, ops.ONLINE)
    if problems:
        return _status_page(application, facts_form=facts_form, problems=problems), 422
    commit_request()
    return _status_page(application, notice="已提交补正，申请重新进入核验。")


@bp.post("/status/objection")
def objection():
    """An objection to the published result, from the page the applicant's lookup opened."""
    from app.applications.operations import Refused
    from app.objections.operations import file

    db = request_session()
    application = _looked_up()
    if application is None:
        return _expired("提出异议")
    try:
        file(db, ops.ONLINE, application, request.form.get("fact", ""),
             request.form.get("text", ""), today=beijing_today())  # fmt: skip
    except Refused as exc:
        db.rollback()
        return _status_page(application, problems=[("", exc.zh)]), 422
    commit_request()
    return _status_page(application, notice="已收到您的异议，受理部门复核后会在本页答复。")


def _published_outcome(db, application, config):
    """The applicant's line of the published result, in words, or None before the 公示."""
    from app.objections.models import Objection
    from app.objections.operations import objection_window
    from app.publicity.operations import status_label
    from app.rounds.allocation import current_run
    from app.rounds.models import Outcome

    round_ = db.get(Round, application.round_id)
    run = current_run(db, round_.id)
    if round_.published_on is None or run is None:
        return None
    outcome = db.exec(
        select(Outcome).where(
            Outcome.run_id == run.id, Outcome.application_no == application.application_no
        )
    ).first()
    if outcome is None:
        return None
    kind = next(c["kind"] for c in config["categories"] if c["id"] == application.category)
    schools = {s["id"]: s.get("name", s["id"]) for s in config.get("schools", [])}
    objections = db.exec(
        select(Objection).where(Objection.application_id == application.id).order_by(Objection.id)
    ).all()
    window = objection_window(db, round_)
    today = beijing_today()
    certificate = None
    if round_.finalized_at is not None and outcome.status == "admitted":
        from app.certificates.operations import of_application

        held = of_application(db, application)  # newest first
        certificate = next((c.certificate for c in held if c.certificate.state == "valid"),
                           held[0].certificate if held else None)  # fmt: skip
    return {
        "final": round_.finalized_at is not None, "certificate": certificate,
        "deadline": dt.date.fromisoformat(config["certificate"]["deadline"])
        if "certificate" in config else None,
        "status": status_label(outcome.status, kind), "school": schools.get(outcome.school or ""),
        "rank": outcome.zone_rank, "explanation": outcome.explanation, "objections": objections,
        "window": window, "can_object": window is not None and round_.finalized_at is None
        and window[0] <= today <= window[1] and not any(o.state == "open" for o in objections),
    }  # fmt: skip


def send_correction(application, facts_form, actor) -> list[tuple[str, str]]:
    """The posted correction form sent (the applicant's, or a clerk's on their behalf): the
    problems, by field, when it was refused; nothing is written then."""
    db = request_session()
    if not facts_form.validate():
        return [(n, "；".join(e)) for n, e in facts_form.errors.items()]
    try:
        raw = facts_form.facts_input()
        raw.pop("reference_date", None)
        ops.correct(db, keys(), application, raw, today=beijing_today(), actor=actor)
    except AnswerError as exc:
        return [(exc.field, exc.message)]
    except ops.CorrectionRefused as exc:
        db.rollback()
        return exc.problems
    return []


def _status_page(application, *, facts_form=None, problems=(), notice=""):
    db = request_session()
    view = ops.status_view(db, application)
    round_ = db.get(Round, application.round_id)
    config = round_config(db, round_)
    if view.application.status == "returned" and facts_form is None:
        facts_form = form_class(get_table(round_.table_id))(formdata=None)
        facts_form.fill(view.claimed_answers)
    zone = next((z for z in config["zones"] if z["id"] == application.zone_id), {})
    return render_template(
        "status.html",
        view=view,
        outcome=_published_outcome(db, application, config),
        office=zone.get("office", {}),
        round=config,
        window=[dt.date.fromisoformat(day) for day in config["application_window"]],
        zone_names={z["id"]: z.get("name", z["id"]) for z in config["zones"]},
        category_names={c["id"]: c.get("name", c["id"]) for c in config["categories"]},
        status_labels=STATUS_LABELS,
        state_labels=STATE_LABELS,
        departments=DEPARTMENTS,
        fact_text=fact_text,
        FACT_SPECS=FACT_SPECS,
        facts_form=facts_form,
        problems=list(problems),
        notice=notice,
        token=_signer().dumps(application.application_no),
    )
