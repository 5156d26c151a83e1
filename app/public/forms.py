"""The checker form, built from the facts a table uses (CTFd-style dynamic form class).

Each fact is asked the way a person can answer it (a `Question`): yes/no for a basic condition,
years and months for a duration, "do you own a home, alone or jointly" with a percentage only
for a joint home, amounts in 元 with the window the table counts them over. WTForms checks the
shape of each answer with Chinese messages (WTForms' bundled zh catalogue,
`WTF_I18N_ENABLED=False`); then `Facts.parse` checks the values with the same rules as the API
and the CLI, and its Chinese messages are attached to the question they concern.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DecimalField, IntegerField, RadioField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional, ValidationError

from app.public.services import condition_facts
from scoring.facts import FACT_SPECS, MAX_MONTHS, TRUE_WORDS, FactsError, FactSpec
from scoring.model import Table

REFERENCE_DATE = "reference_date"
# Shares are asked as percentages: nobody owns "0.5" of a flat, they own half of it.
PERCENT_FACTS = {"home_share": "您（含配偶）所占的产权份额", "business_share": "出资比例"}


class AnswerError(ValueError):
    """An answer that cannot become a fact value; `field` is the form field to mark."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Question:
    """How one fact is asked: `kind` picks the fields and how they read back."""

    fact: str
    kind: str  # "plain", "yesno", "duration", "home", "percent"
    label: str
    help: str

    @property
    def fields(self) -> tuple[str, ...]:
        if self.kind == "duration":
            return (f"{self.fact}__years", f"{self.fact}__months")
        if self.kind == "home":
            return (f"{self.fact}__owned", f"{self.fact}__percent")
        if self.kind == "percent":
            return (f"{self.fact}__percent",)
        return (self.fact,)

    def bound(self, form: CheckerForm) -> list[Any]:
        return [form[name] for name in self.fields]

    @property
    def first_field(self) -> str:
        return self.fields[0]

    def read(self, form: CheckerForm) -> Any:
        """The answer as the value `Facts.parse` reads, or None when not answered."""
        data = [form[name].data for name in self.fields]
        if self.kind == "duration":
            years, months = data
            if years is None and months is None:
                return None
            return (years or 0) * 12 + (months or 0)
        if self.kind == "home":
            owned, percent = data
            if owned in (None, "", "none"):
                return None
            if owned == "sole":
                return "1"
            if percent is None:
                raise AnswerError(self.fields[1], "与他人共有时，请填写您（含配偶）所占的份额")
            return _fraction(percent, self.fields[1])
        if self.kind == "percent":
            return None if data[0] is None else _fraction(data[0], self.fields[0])
        value = data[0]
        if value is None or value == "" or value is False or value == "none":
            return None  # "none" of a choice is the fact's default: nothing to carry
        if value is True:
            return "y"
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def fill(self, form: CheckerForm, value: Any) -> None:
        """Show an answer given as a fact value (a shared result opened again)."""
        if self.kind == "duration":
            months = int(value)
            form[self.fields[0]].data, form[self.fields[1]].data = divmod(months, 12)
        elif self.kind == "home":
            share = Decimal(str(value))
            form[self.fields[0]].data = "sole" if share >= 1 else "joint"
            form[self.fields[1]].data = None if share >= 1 else _percent(share)
        elif self.kind == "percent":
            form[self.fields[0]].data = _percent(Decimal(str(value)))
        else:
            spec = FACT_SPECS[self.fact]
            field = form[self.fact]
            if spec.kind == "bool":
                truthy = str(value).strip().lower() in TRUE_WORDS
                field.data = ("y" if truthy else "n") if self.kind == "yesno" else truthy
            elif spec.kind == "date":
                field.data = dt.date.fromisoformat(str(value))
            elif spec.kind == "decimal":
                field.data = Decimal(str(value))
            else:
                field.data = value


def _fraction(percent: Decimal, field: str) -> str:
    if not percent.is_finite() or not (0 < percent <= 100):
        raise AnswerError(field, "份额应在 0 到 100 之间（%）")
    return format((percent / 100).normalize(), "f")


def _percent(share: Decimal) -> Decimal:
    return (share * 100).normalize()


class CheckerForm(FlaskForm):
    """Base class of every programme's form."""

    class Meta:
        locales = ("zh_CN", "zh")

    questions: tuple[Question, ...] = ()
    condition_count = 0  # the first questions are the basic conditions

    @property
    def fact_names(self) -> tuple[str, ...]:
        return tuple(q.fact for q in self.questions)

    def facts_input(self) -> dict[str, Any]:
        """The answers as the strings/values `Facts.parse` reads (unanswered ones left out).
        Raises AnswerError for an answer that has no fact value."""
        raw: dict[str, Any] = {}
        for question in self.questions:
            value = question.read(self)
            if value is not None:
                raw[question.fact] = value
        day = self[REFERENCE_DATE].data
        if day is not None:
            raw[REFERENCE_DATE] = day.isoformat()
        return raw

    def fill(self, raw: dict[str, Any]) -> None:
        for question in self.questions:
            if question.fact in raw:
                question.fill(self, raw[question.fact])
        if raw.get(REFERENCE_DATE):
            self[REFERENCE_DATE].data = dt.date.fromisoformat(raw[REFERENCE_DATE])

    def attach(self, error: FactsError | AnswerError) -> None:
        """Put `Facts.parse`'s (or a question's) messages on the fields they concern."""
        pairs = (
            [(error.field, error.message)]
            if isinstance(error, AnswerError)
            else [(e.field, e.zh) for e in error.errors]
        )
        firsts = {q.fact: q.first_field for q in self.questions}
        for name, message in pairs:
            field = self._fields.get(firsts.get(name, name))
            if field is None:
                self.form_errors = [*self.form_errors, message]
                continue
            field.errors = [*field.errors, message]


def _number_message(spec: FactSpec) -> str:
    unit = f"（单位：{spec.unit}）" if spec.unit else ""
    return f"应在 {spec.minimum} 到 {spec.maximum} 之间{unit}"


class InRange(NumberRange):
    """NumberRange that stays quiet when the field could not parse a number at all (the field
    already said so: "不是有效的整数。")."""

    def __call__(self, form, field):
        if field.data is None:
            return
        if isinstance(field.data, Decimal) and not field.data.is_finite():  # NaN, sNaN, Infinity
            raise ValidationError(self.message)
        super().__call__(form, field)


def _question(table: Table, name: str, is_condition: bool) -> Question:
    spec = FACT_SPECS[name]
    help = table.fact_help.get(name, spec.help)
    if spec.unit == "元" and name not in table.fact_help:
        # an amount means nothing without the years it adds up: say so when no source does
        help += "按哪几年的金额计算，本政策的来源未写明，以当年的申请通知为准。"
    if spec.kind == "bool" and is_condition:
        kind = "yesno"
    elif spec.unit == "个月":
        kind = "duration"
    elif name == "home_share":
        kind = "home"
    elif name in PERCENT_FACTS:
        kind = "percent"
    else:
        kind = "plain"
    return Question(name, kind, spec.label, help)


def _fields(question: Question) -> dict[str, Any]:
    spec = FACT_SPECS[question.fact]
    kw: dict[str, Any] = {"label": question.label, "description": question.help}
    name = question.fact
    if question.kind == "yesno":
        return {
            name: RadioField(
                choices=[SelectChoice("y", "是"), SelectChoice("n", "否")],
                validators=[Optional()],
                **kw,
            )
        }
    if question.kind == "duration":
        years = IntegerField(
            validators=[Optional(), InRange(0, MAX_MONTHS // 12, message="年数应在 0 到 100 之间")],
            render_kw={"inputmode": "numeric", "min": "0", "max": str(MAX_MONTHS // 12)},
            **kw,
        )
        months = IntegerField(
            "个月",
            validators=[Optional(), InRange(0, MAX_MONTHS, message="月数应在 0 到 1200 之间")],
            render_kw={"inputmode": "numeric", "min": "0", "max": str(MAX_MONTHS)},
        )
        return {f"{name}__years": years, f"{name}__months": months}
    if question.kind in ("home", "percent"):
        percent_kw = {"label": PERCENT_FACTS[name]} if question.kind == "home" else kw
        percent = DecimalField(
            validators=[Optional()],
            places=None,
            render_kw={"inputmode": "decimal", "min": "0", "max": "100", "step": "any"},
            **percent_kw,
        )
        if question.kind == "percent":
            return {f"{name}__percent": percent}
        owned = RadioField(
            "在本市有自有住房吗",
            choices=[
                SelectChoice("none", "没有"),
                SelectChoice("sole", "有，本人或配偶独有"),
                SelectChoice("joint", "有，与他人共有"),
            ],
            default="none",
            validators=[Optional()],
            description=question.help,
        )
        return {f"{name}__owned": owned, f"{name}__percent": percent}
    if spec.kind == "enum":
        choices = [
            SelectChoice(value, "请选择" if value == "none" and is_question(spec) else label)
            for value, label in spec.choices
        ]
        return {name: SelectField(choices=choices, default="none", **kw)}
    if spec.kind == "bool":
        return {name: BooleanField(**kw)}
    if spec.kind == "date":
        return {
            name: DateField(
                validators=[Optional()],
                format="%Y-%m-%d",
                **kw,
                render_kw={"placeholder": "年-月-日"},
            )
        }
    render = {"inputmode": "numeric" if spec.kind == "int" else "decimal", "placeholder": "0"}
    if spec.minimum is not None:
        render["min"] = str(spec.minimum)
    if spec.maximum is not None:
        render["max"] = str(spec.maximum)
    validators: list[Any] = [Optional()]
    if spec.minimum is not None and spec.maximum is not None:
        validators.append(InRange(spec.minimum, spec.maximum, message=_number_message(spec)))  # type: ignore[arg-type]
    if spec.kind == "int":
        return {name: IntegerField(validators=validators, render_kw=render, **kw)}
    render["step"] = "any"
    return {
        name: DecimalField(validators=validators, render_kw=render, places=None, **kw),
    }


def is_question(spec: FactSpec) -> bool:
    """An enum whose "none" means "not answered yet" rather than "I have none"."""
    return spec.name == "child_grade"


_CACHE: dict[str, tuple[Table, type[CheckerForm]]] = {}
_LOCK = threading.Lock()


def form_class(table: Table) -> type[CheckerForm]:
    """The form class for a table, built once per table (tables are immutable data): the basic
    conditions first, then the scored facts in the order of the table's items."""
    cached = _CACHE.get(table.id)
    if cached is not None and cached[0] is table:
        return cached[1]
    asked = condition_facts(table)
    names = [*asked, *(n for n in table.facts_used() if n in FACT_SPECS and n not in asked)]
    questions = tuple(_question(table, n, n in asked) for n in names)
    attrs: dict[str, Any] = {}
    for question in questions:
        attrs.update(_fields(question))
    attrs[REFERENCE_DATE] = DateField(
        "计分日期",
        description="按哪一天计算年龄、年限等；不填即按今天计算。查看往年政策时可填当年的申请日期。",
        validators=[Optional()],
        format="%Y-%m-%d",
        render_kw={"placeholder": "年-月-日"},
    )
    attrs["questions"] = questions
    attrs["condition_count"] = len(asked)
    cls = type(f"CheckerForm_{table.id.replace('-', '_')}", (CheckerForm,), attrs)
    with _LOCK:
        _CACHE[table.id] = (table, cls)
    return cls
