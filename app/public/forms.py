"""The checker form, built from the facts a table uses (CTFd-style dynamic form class).

WTForms checks the shape of each answer with Chinese messages (WTForms' bundled zh catalogue,
`WTF_I18N_ENABLED=False`); then `Facts.parse` checks the values with the same rules as the API
and the CLI, and its Chinese messages are attached to the fields.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DecimalField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional, ValidationError

from scoring.facts import FACT_SPECS, FactsError, FactSpec
from scoring.model import Table

REFERENCE_DATE = "reference_date"


class CheckerForm(FlaskForm):
    """Base class of every programme's form."""

    class Meta:
        locales = ("zh_CN", "zh")

    fact_names: tuple[str, ...] = ()

    def facts_input(self) -> dict[str, Any]:
        """The answers as the strings/values `Facts.parse` reads (empty answers left out)."""
        raw: dict[str, Any] = {}
        for name in (*self.fact_names, REFERENCE_DATE):
            field = self._fields.get(name)
            if field is None or field.data is None or field.data == "" or field.data is False:
                continue
            value = field.data
            if value is True:
                value = "y"  # as a checkbox sends it (the comparison re-sends these answers)
            elif isinstance(value, Decimal):
                value = format(value, "f")
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            raw[name] = value
        return raw

    def attach(self, error: FactsError) -> None:
        """Put `Facts.parse`'s messages on the fields they concern."""
        for e in error.errors:
            field = self._fields.get(e.field)
            target = field.errors if field is not None else self.form_errors
            if isinstance(target, tuple):
                target = list(target)
                if field is not None:
                    field.errors = target
            target.append(e.zh)


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


def make_field(spec: FactSpec) -> Any:
    kw: dict[str, Any] = {"label": spec.label, "description": spec.help}
    if spec.kind == "enum":
        choices = [SelectChoice(value, label) for value, label in spec.choices]
        return SelectField(choices=choices, default="none", **kw)
    if spec.kind == "bool":
        return BooleanField(**kw)
    if spec.kind == "date":
        return DateField(
            validators=[Optional()], format="%Y-%m-%d", **kw, render_kw={"placeholder": "年-月-日"}
        )
    render = {"inputmode": "numeric" if spec.kind == "int" else "decimal", "placeholder": "0"}
    if spec.minimum is not None:
        render["min"] = str(spec.minimum)
    if spec.maximum is not None:
        render["max"] = str(spec.maximum)
    validators = [Optional()]
    if spec.minimum is not None and spec.maximum is not None:
        validators.append(
            InRange(spec.minimum, spec.maximum, message=_number_message(spec))  # type: ignore[arg-type]
        )
    if spec.kind == "int":
        return IntegerField(validators=validators, render_kw=render, **kw)
    render["step"] = "any"
    return DecimalField(validators=validators, render_kw=render, places=None, **kw)


_CACHE: dict[str, tuple[Table, type[CheckerForm]]] = {}
_LOCK = threading.Lock()


def form_class(table: Table) -> type[CheckerForm]:
    """The form class for a table, built once per table (tables are immutable data)."""
    cached = _CACHE.get(table.id)
    if cached is not None and cached[0] is table:
        return cached[1]
    names = tuple(n for n in table.facts_used() if n in FACT_SPECS)
    attrs: dict[str, Any] = {name: make_field(FACT_SPECS[name]) for name in names}
    attrs[REFERENCE_DATE] = DateField(
        "计分日期",
        description="按哪一天计算年龄、年限等；不填即按今天计算。查看往年政策时可填当年的申请日期。",
        validators=[Optional()],
        format="%Y-%m-%d",
        render_kw={"placeholder": "年-月-日"},
    )
    attrs["fact_names"] = names
    cls = type(f"CheckerForm_{table.id.replace('-', '_')}", (CheckerForm,), attrs)
    with _LOCK:
        _CACHE[table.id] = (table, cls)
    return cls
