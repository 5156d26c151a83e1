"""`/apply/<table_id>`: apply online for the open round of a programme, from a checker result
(its answers carried over in the result's code, `?a=`). Nothing personal goes in a URL: the
form is POSTed, and its answer is the summary page itself (no-store), to print or save."""

from __future__ import annotations

from collections import Counter

import orjson
from flask import Blueprint, abort, current_app, render_template, request
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from app.accounts.web import keys
from app.applications.views import fact_text
from app.db import commit_request, request_session
from app.intake import operations as ops
from app.localtime import beijing_today
from app.protect import mask_id, mask_name, mask_phone
from app.public import answers
from app.rounds.models import Round
from app.rounds.operations import round_config
from scoring.facts import FACT_SPECS, parse_value, to_json_value
from scoring.tables import UnknownTable, get_table

bp = Blueprint("intake", __name__)
COMMITMENT = (
    "本人承诺：所填信息和提交的材料真实、准确、完整。如有虚假，本人自愿承担相应责任，"
    "包括被取消本次申请资格。"
)
LABELS = {
    "name": "姓名", "id_number": "身份证号", "phone": "手机", "zone": "申请镇街",
    "category": "申请类别", "choices": "学校志愿", "accept_any_in_zone": "服从调剂",
    "committed": "承诺书", "siblings": "同时申请的兄弟姐妹",
    **{f"sibling{k}_{f}": f"第 {k + 1} 个孩子的{label}" for k in (1, 2)
       for f, label in (("name", "姓名"), ("id_number", "身份证号"))},
}  # fmt: skip


class ApplyForm(FlaskForm):
    class Meta:
        locales = ("zh_CN", "zh")

    a = HiddenField()
    round_id = HiddenField()
    name = StringField("姓名", [Optional(), Length(max=50)])
    id_number = StringField("身份证号", [Optional(), Length(max=18)])
    phone = StringField("手机", [Optional(), Length(max=20)])
    zone = SelectField("申请镇街", validate_choice=False)
    category = SelectField("申请类别", validate_choice=False)
    accept_any = BooleanField("服从调剂（志愿学校满额时，同意安排到本镇街其他学校）")
    committed = BooleanField(COMMITMENT)
    # The school choices (`choice`, in order) and the brothers and sisters applying together
    # (`sibling_name`, `sibling_id_number`) are repeated fields, read in the order posted.
    schools: tuple[tuple[str, str], ...] = ()  # (id, label) of the round: prepare_choices
    choice_count = 0

    def choices_posted(self) -> list[str]:
        return [c for c in request.form.getlist("choice")[: self.choice_count] if c]

    def siblings_posted(self) -> list[tuple[str, str]]:
        names = request.form.getlist("sibling_name")[: ops.MAX_SIBLINGS]
        numbers = request.form.getlist("sibling_id_number")[: ops.MAX_SIBLINGS]
        pairs = zip(names, numbers + [""] * (len(names) - len(numbers)), strict=False)
        return [(n.strip()[:50], i.strip()[:18]) for n, i in pairs]

    def submission(self) -> ops.Submission:
        posted = request.method == "POST"
        return ops.Submission(
            name=self.name.data or "", id_number=self.id_number.data or "",
            phone=self.phone.data or "", zone=self.zone.data or "",
            category=self.category.data or "",
            choices=self.choices_posted() if posted else [],
            accept_any=bool(self.accept_any.data), committed=bool(self.committed.data),
            siblings=self.siblings_posted() if posted else [],
        )  # fmt: skip


def shown_facts(facts: dict) -> list[tuple[str, str]]:
    """The carried-over answers as (label, value in words), for the form and the summary."""
    today = beijing_today()
    out = []
    for name, value in facts.items():
        spec = FACT_SPECS[name]
        try:
            parsed = parse_value(spec, value, today=today)
        except ValueError:
            continue
        out.append(
            (spec.label, fact_text(name, orjson.dumps(to_json_value(spec, parsed)).decode()))
        )
    return out


def _facts(code: str) -> dict:
    if not code:
        return {}
    try:
        raw, _ = answers.decode(current_app.config["SECRET_KEY"], code)
    except answers.BadCode:
        return {}
    return {k: v for k, v in raw.items() if k in FACT_SPECS}


def prepare_choices(form: ApplyForm, config: dict, zones=None) -> None:
    """The round's zones (only `zones`, when given: a clerk's own), categories and schools,
    and how many choices to offer: as many as the most schools one zone has in a category,
    within the round's `max_choices`."""
    form.zone.choices = [("", "请选择")] + [
        (z["id"], z.get("name", z["id"]))
        for z in config["zones"]
        if zones is None or z["id"] in zones
    ]
    form.category.choices = [("", "请选择")] + [
        (c["id"], c.get("name", c["id"])) for c in config["categories"]
    ]
    names = {z["id"]: z.get("name", z["id"]) for z in config["zones"]}
    schools = config.get("schools", [])
    form.schools = tuple(
        (s["id"], f"{s.get('name', s['id'])}（{names.get(s['zone'], s['zone'])}）") for s in schools
    )
    if any(c["kind"] == "school" for c in config["categories"]):
        # a school application is the child's, one per child (the points are the parent's)
        form.name.label.text, form.id_number.label.text = "学生姓名", "学生身份证号"
    per_zone = Counter((s["zone"], s["category"]) for s in schools)
    most = max(per_zone.values(), default=0)
    form.choice_count = min(most, config.get("max_choices") or most)


def _page(table, round_, form, config, facts, problems=None, status=200):
    page = render_template(
        "apply.html", table=table, round=round_, form=form, facts=shown_facts(facts),
        problems=problems or {}, labels=LABELS, has_schools=bool(config.get("schools")),
        submission=form.submission(), max_siblings=ops.MAX_SIBLINGS,
    )  # fmt: skip
    return page, status


def _table(table_id: str):
    try:
        return get_table(table_id)
    except UnknownTable:
        abort(404)


@bp.get("/apply/<table_id>")
def apply(table_id: str):
    table = _table(table_id)
    db = request_session()
    today = beijing_today()
    open_now = ops.open_rounds(db, table.id, today)
    if not open_now:
        upcoming = ops.next_rounds(db, table.id, today)
        return render_template("apply_closed.html", table=table, upcoming=upcoming), 200
    round_ = open_now[0]
    config = round_config(db, round_)
    form = ApplyForm(formdata=None, a=request.args.get("a", ""), round_id=round_.id)
    prepare_choices(form, config)
    return _page(table, round_, form, config, _facts(form.a.data))


@bp.post("/apply/<table_id>")
def submit(table_id: str):
    table = _table(table_id)
    db = request_session()
    form = ApplyForm()
    round_ = db.get(Round, form.round_id.data or "")
    if round_ is None or round_.table_id != table.id:
        abort(404)
    config = round_config(db, round_)
    prepare_choices(form, config)
    facts = _facts(form.a.data)
    if not form.validate():
        problems = {name: "；".join(errors) for name, errors in form.errors.items()}
        return _page(table, round_, form, config, facts, problems, 422)
    submission = form.submission()
    try:
        done = ops.submit(db, keys(), round_.id, submission, facts, today=beijing_today())
    except ops.ApplicationRefused as exc:
        db.rollback()
        return _page(table, round_, form, config, facts, exc.by_field(set(LABELS)), 422)
    commit_request()
    zones = {z["id"]: z.get("name", z["id"]) for z in config["zones"]}
    categories = {c["id"]: c.get("name", c["id"]) for c in config["categories"]}
    school_names = {s["id"]: s.get("name", s["id"]) for s in config.get("schools", [])}
    people = [(submission.name, submission.id_number), *submission.siblings]
    return render_template(
        "applied.html", table=table, round=round_, number=done.first,
        applications=[
            {"number": done.number(k), "name": mask_name(name), "id_number": mask_id(number)}
            for k, (name, number) in enumerate(people)
        ],
        masked={"name": mask_name(submission.name), "id_number": mask_id(submission.id_number),
                "phone": mask_phone(submission.phone) if submission.phone else ""},
        zone=zones.get(submission.zone, submission.zone),
        category=categories.get(submission.category, submission.category),
        choices=[school_names.get(c, c) for c in submission.choices],
        accept_any=submission.accept_any, facts=shown_facts(facts),
    )  # fmt: skip
