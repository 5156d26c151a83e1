"""`/status`: an applicant looks up their application (POST only: nothing personal in a URL)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.accounts.models import DEPARTMENTS
from app.accounts.web import keys
from app.applications.views import STATE_LABELS, STATUS_LABELS, fact_text
from app.db import commit_request, request_session
from app.rounds.models import Round
from app.rounds.operations import round_config
from app.status import operations as ops
from scoring.facts import FACT_SPECS

bp = Blueprint("status", __name__)
NOT_MATCHED = "未找到或信息不匹配。请核对受理编号、身份证号和姓名；多次不符将暂停查询一段时间。"


class LookupForm(FlaskForm):
    class Meta:
        locales = ("zh_CN", "zh")

    application_no = StringField("受理编号", [DataRequired(), Length(max=40)])
    id_number = StringField("身份证号", [DataRequired(), Length(max=18)])
    name = StringField("姓名", [DataRequired(), Length(max=50)])


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
    view = ops.status_view(db, application)
    round_ = db.get(Round, application.round_id)
    config = round_config(db, round_)
    commit_request()
    return render_template(
        "status.html",
        view=view,
        round=config,
        window=[dt.date.fromisoformat(day) for day in config["application_window"]],
        zone_names={z["id"]: z.get("name", z["id"]) for z in config["zones"]},
        category_names={c["id"]: c.get("name", c["id"]) for c in config["categories"]},
        status_labels=STATUS_LABELS,
        state_labels=STATE_LABELS,
        departments=DEPARTMENTS,
        fact_text=fact_text,
        FACT_SPECS=FACT_SPECS,
    )
