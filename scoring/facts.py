"""The facts vocabulary: one typed, validated description of an applicant that every table reads.

Every fact has a Chinese label, a unit and help text, so that the web form for a programme, the
CLI error messages and the explanations all speak of it the same way. A fact that is not given
means "none": zero months, no donations, no qualification, not true.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

FactKind = Literal["date", "enum", "bool", "int", "decimal"]

EDUCATION_LEVELS: tuple[tuple[str, str], ...] = (
    ("none", "无/小学以下"),
    ("primary", "小学"),
    ("junior_high", "初中"),
    ("senior_high", "高中/中专/中技/中职"),
    ("associate", "大专/高职"),
    ("bachelor", "本科"),
    ("bachelor_degree", "本科（有学士学位）"),
    ("master", "硕士研究生"),
    ("doctor", "博士研究生"),
)
SKILL_LEVELS: tuple[tuple[str, str], ...] = (
    ("none", "无"),
    ("level5", "初级工（五级）"),
    ("level4", "中级工（四级）"),
    ("level3", "高级工（三级）"),
    ("level2", "技师（二级）"),
    ("level1", "高级技师（一级）"),
)
TITLE_LEVELS: tuple[tuple[str, str], ...] = (
    ("none", "无"),
    ("junior", "初级职称"),
    ("intermediate", "中级职称"),
    ("associate_senior", "副高级职称"),
    ("senior", "正高级职称"),
)

MAX_MONTHS = 1200
MAX_YUAN = Decimal("10000000000")  # ten billion yuan: above any personal tax or donation


@dataclass(frozen=True, slots=True)
class FactSpec:
    """What one fact is: its type, its Chinese label, its unit, its range and help text."""

    name: str
    kind: FactKind
    label: str
    help: str
    unit: str = ""
    minimum: int | Decimal | None = None
    maximum: int | Decimal | None = None
    choices: tuple[tuple[str, str], ...] = ()
    # Decimal facts are kept as integers internally: value * scale must be a whole number.
    scale: int = 1
    # How a suggestion may change this fact ("再缴纳社保 5 个月"): verb and effort per unit.
    improvable: bool = False
    effort_months_per_unit: Decimal = Decimal(0)
    # A fact about one city ("本市": its insurance, residence permit, homes, taxes): it means
    # nothing under another city's table. Education, skills, age, donations carry over.
    local: bool = False

    levels: tuple[str, ...] = field(init=False, default=())
    _labels: dict[str, str] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(value for value, _ in self.choices))
        object.__setattr__(self, "_labels", dict(self.choices))

    def choice_label(self, value: str) -> str:
        return self._labels.get(value, value)

    def default(self) -> Any:
        return {"date": None, "enum": "none", "bool": False, "int": 0, "decimal": Decimal(0)}[
            self.kind
        ]


def _months(name: str, label: str, help: str, effort: str = "1", local: bool = True) -> FactSpec:
    return FactSpec(
        name,
        "int",
        label,
        help,
        unit="个月",
        minimum=0,
        maximum=MAX_MONTHS,
        improvable=True,
        effort_months_per_unit=Decimal(effort),
        local=local,
    )


def _yuan(name: str, label: str, help: str, local: bool = True) -> FactSpec:
    return FactSpec(
        name,
        "decimal",
        label,
        help,
        unit="元",
        minimum=Decimal(0),
        maximum=MAX_YUAN,
        scale=100,
        local=local,
    )


def _share(name: str, label: str, help: str) -> FactSpec:
    return FactSpec(
        name,
        "decimal",
        label,
        help,
        unit="",
        minimum=Decimal(0),
        maximum=Decimal(1),
        scale=10000,
        local=True,
    )


FACT_SPECS: dict[str, FactSpec] = {
    spec.name: spec
    for spec in (
        FactSpec("birth_date", "date", "出生日期", "按申请日（参照日）计算周岁年龄。"),
        FactSpec(
            "education",
            "enum",
            "最高学历",
            "已取得毕业证书的最高学历。",
            choices=EDUCATION_LEVELS,
            improvable=True,
            effort_months_per_unit=Decimal(30),
        ),
        FactSpec("education_fulltime", "bool", "全日制学历", "最高学历为全日制（统招）学历。"),
        FactSpec(
            "skill_level",
            "enum",
            "国家职业资格等级",
            "已取得的最高国家职业资格（技能等级）证书。",
            choices=SKILL_LEVELS,
            improvable=True,
            effort_months_per_unit=Decimal(12),
        ),
        FactSpec(
            "title",
            "enum",
            "专业技术职称",
            "已取得的最高专业技术资格（职称）。",
            choices=TITLE_LEVELS,
            improvable=True,
            effort_months_per_unit=Decimal(24),
        ),
        _months(
            "insured_months_city",
            "本市社保缴费月数",
            "在本市参加社会保险（养老保险）的累计缴费月数，不含补缴、退保月数。",
        ),
        _months(
            "insured_months_province",
            "省内其他城市社保月数",
            "在广东省内其他城市缴纳养老保险、已转入本市的月数。",
        ),
        _months(
            "insured_months_outside",
            "省外转入社保月数",
            "在广东省外缴纳养老保险、已转入本市的月数。",
        ),
        _months(
            "medical_insured_months_city", "本市医疗保险月数", "在本市参加医疗保险的累计月数。"
        ),
        _months(
            "medical_insured_months_province",
            "省内其他城市医保月数",
            "在广东省内其他城市参加医疗保险的月数。",
        ),
        _months(
            "unemployment_insured_months_city",
            "本市失业保险月数",
            "在本市参加失业保险的累计缴费月数。",
        ),
        _months(
            "injury_insured_months_city",
            "本市工伤保险月数",
            "在本市参加工伤保险的累计缴费月数。",
        ),
        _months(
            "maternity_insured_months_city",
            "本市生育保险月数",
            "在本市参加生育保险的累计缴费月数。",
        ),
        FactSpec(
            "insurance_kinds",
            "int",
            "本市参保险种数",
            "在本市同时缴纳的社会保险险种数（养老、医疗、失业、工伤、生育，最多 5 种）。",
            unit="种",
            minimum=0,
            maximum=5,
            local=True,
        ),
        _months("residence_permit_months", "连续持有居住证月数", "连续持有本市居住证的月数。"),
        _share(
            "home_share",
            "本市自有住房产权份额",
            "本人或配偶在本市拥有住房的产权份额（独有为全部；与他人共有时按所占份额）。",
        ),
        _months("home_owned_months", "本市自有住房月数", "在本市拥有合法产权住房的月数。"),
        _months("rented_months", "本市租房或单位宿舍月数", "在本市合法租房或居住单位宿舍的月数。"),
        _months("housing_fund_months", "本市住房公积金月数", "在本市缴存住房公积金的月数。"),
        _months("city_work_months", "在本市工作居住月数", "在本市连续工作并居住的月数。"),
        _months(
            "priority_occupation_months",
            "紧缺岗位从业月数",
            "在高新技术企业任技术人员、或任环卫工人、公交从业人员的月数。",
            "1",
        ),
        FactSpec(
            "blood_donations",
            "int",
            "献血次数",
            "计分期内无偿献血的次数。",
            unit="次",
            minimum=0,
            maximum=1000,
            improvable=True,
            effort_months_per_unit=Decimal(6),
        ),
        FactSpec(
            "blood_donation_ml",
            "int",
            "献血量",
            "计分期内无偿献血的总量。",
            unit="毫升",
            minimum=0,
            maximum=100000,
            improvable=True,
            effort_months_per_unit=Decimal("0.015"),
        ),
        FactSpec(
            "volunteer_hours",
            "decimal",
            "志愿服务时数",
            "计分期内登记的志愿（义工）服务时数。",
            unit="小时",
            minimum=Decimal(0),
            maximum=Decimal(100000),
            scale=100,
            improvable=True,
            effort_months_per_unit=Decimal("0.05"),
        ),
        _yuan("charity_yuan", "慈善捐款", "计分期内通过慈善机构的捐款金额。", local=False),
        _yuan("income_tax_yuan", "个人所得税", "计分期内在本市缴纳的个人所得税。"),
        _yuan("business_tax_yuan", "企业纳税额", "计分期内本人投资企业在本市缴纳的税款。"),
        _share("business_share", "企业出资比例", "本人在该企业所占的出资份额。"),
        _yuan(
            "self_employed_tax_yuan",
            "个体工商户纳税额",
            "计分期内本人经营的个体工商户在本市缴纳的税款。",
        ),
        _yuan("deed_tax_yuan", "契税", "在本市购房缴纳的契税。"),
        FactSpec(
            "invention_patent",
            "bool",
            "发明专利或主要科研成果",
            "本人获得国家发明专利，或是主要科研成果的主要完成人。",
        ),
        FactSpec("health_certified", "bool", "体检合格", "有六个月内的入户体检合格证明。"),
        FactSpec(
            "employment_registered",
            "bool",
            "就业登记并参保",
            "已办理就业登记且目前在本市参保。",
            local=True,
        ),
        # Basic conditions of the programmes (申请条件): asked first on the public form.
        FactSpec(
            "local_hukou",
            "bool",
            "已是本市户籍",
            "申请人（积分入学为孩子）的户口已在本市。积分制面向非本市户籍人员。",
            local=True,
        ),
        FactSpec(
            "residence_permit_held",
            "bool",
            "持有本市居住证",
            "现持有本市公安机关签发、在有效期内的居住证。",
            local=True,
        ),
        FactSpec(
            "insured_last_month_city",
            "bool",
            "申请前一个月在本市参保",
            "申请前一个月在本市有社会保险缴费记录。",
            local=True,
        ),
        FactSpec(
            "child_grade",
            "enum",
            "孩子申请入读的年级",
            "积分入学只安排起始年级：小学一年级或初中一年级。",
            choices=(
                ("none", "未填写"),
                ("primary1", "小学一年级"),
                ("junior1", "初中一年级"),
                ("other", "其他年级（插班）"),
            ),
        ),
        FactSpec("re_education", "bool", "受过劳动教养", "曾被劳动教养。"),
        FactSpec("criminal_record", "bool", "受过刑事处罚", "曾受过刑事处罚。"),
        FactSpec("false_information", "bool", "曾提供虚假材料", "在积分申请中曾提供虚假材料。"),
        FactSpec(
            "family_planning_violation_date",
            "date",
            "违反计划生育政策生育日期",
            "如有政策外生育，填写该次生育的日期；没有则留空。",
        ),
    )
}


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from `start` to `end` (negative when `end` is earlier)."""
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def completed_years(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


# Months of insurance, residence or work can only have been earned from this age on: the
# minimum working age of the Labour Law (劳动法第十五条). A birth date further back than
# OLDEST_AGE years is almost surely a typing error.
WORKING_AGE = 16
OLDEST_AGE = 100
MONTH_FACTS = tuple(name for name, spec in FACT_SPECS.items() if spec.unit == "个月")


def check_together(values: Mapping[str, Any], on: dt.date) -> list[FactError]:
    """Whether parsed facts fit together on the reference date `on` (a birth date and the
    durations it allows): the one definition, which the batch path also calls for its rows."""
    born = values.get("birth_date")
    if born is None:
        return []
    if born > on:
        return [
            FactError(
                "birth_date",
                f"出生日期晚于参照日 {on.isoformat()}",
                f"birth date is after the reference date {on.isoformat()}",
            )
        ]
    if add_years(born, OLDEST_AGE) < on:
        return [
            FactError(
                "birth_date",
                f"出生日期距参照日已超过 {OLDEST_AGE} 年，请核对",
                f"born more than {OLDEST_AGE} years before the reference date: please check",
            )
        ]
    start = add_years(born, WORKING_AGE)
    limit = max(0, months_between(start, on))
    errors = []
    for name in MONTH_FACTS:
        if values.get(name, 0) > limit and start > on:
            errors.append(
                FactError(
                    name,
                    f"到参照日（{on.isoformat()}）未满 {WORKING_AGE} 周岁，不能有此月数",
                    f"under {WORKING_AGE} on the reference date ({on.isoformat()}): no such months",
                )
            )
        elif values.get(name, 0) > limit:
            errors.append(
                FactError(
                    name,
                    f"不能超过 {limit} 个月：从 {WORKING_AGE} 周岁（{start.isoformat()}）到参照日"
                    f"（{on.isoformat()}）只有 {limit} 个月",
                    f"at most {limit} months: only {limit} months from age {WORKING_AGE} "
                    f"({start.isoformat()}) to the reference date ({on.isoformat()})",
                )
            )
    return errors


TRUE_WORDS = {"true", "1", "yes", "y", "是", "有", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "否", "无", "f", ""}


@dataclass(frozen=True, slots=True)
class FactError:
    field: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.field}: {self.zh} ({self.en})"


class FactsError(ValueError):
    """Facts that do not validate: one message per bad field, in Chinese and English."""

    def __init__(self, errors: list[FactError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))

    def by_field(self) -> dict[str, FactError]:
        return {e.field: e for e in self.errors}


@dataclass(slots=True)
class Facts:
    """A validated applicant. Use `Facts.parse(mapping)` to build one from untrusted input.

    Treat it as a value: change it with `replace()`, which returns a new one. (It is not a frozen
    dataclass only because a frozen one takes four times as long to build, and the web API and
    the scalar benchmark build one per request.)"""

    birth_date: dt.date | None = None
    education: str = "none"
    education_fulltime: bool = False
    skill_level: str = "none"
    title: str = "none"
    insured_months_city: int = 0
    insured_months_province: int = 0
    insured_months_outside: int = 0
    medical_insured_months_city: int = 0
    medical_insured_months_province: int = 0
    unemployment_insured_months_city: int = 0
    injury_insured_months_city: int = 0
    maternity_insured_months_city: int = 0
    insurance_kinds: int = 0
    residence_permit_months: int = 0
    home_share: Decimal = Decimal(0)
    home_owned_months: int = 0
    rented_months: int = 0
    housing_fund_months: int = 0
    city_work_months: int = 0
    priority_occupation_months: int = 0
    blood_donations: int = 0
    blood_donation_ml: int = 0
    volunteer_hours: Decimal = Decimal(0)
    charity_yuan: Decimal = Decimal(0)
    income_tax_yuan: Decimal = Decimal(0)
    business_tax_yuan: Decimal = Decimal(0)
    business_share: Decimal = Decimal(0)
    self_employed_tax_yuan: Decimal = Decimal(0)
    deed_tax_yuan: Decimal = Decimal(0)
    invention_patent: bool = False
    health_certified: bool = False
    employment_registered: bool = False
    local_hukou: bool = False
    residence_permit_held: bool = False
    insured_last_month_city: bool = False
    child_grade: str = "none"
    re_education: bool = False
    criminal_record: bool = False
    false_information: bool = False
    family_planning_violation_date: dt.date | None = None
    reference_date: dt.date | None = field(default=None, compare=False)

    @classmethod
    def parse(
        cls, raw: Mapping[str, Any], *, today: dt.date | None = None, on: dt.date | None = None
    ) -> Facts:
        """Validate untrusted input (JSON, CSV cells, form data): each fact alone, then whether
        they fit together on the reference date (`on`, else the facts' own `reference_date`,
        else today).

        Raises FactsError listing every bad field."""
        if not isinstance(raw, Mapping):
            raise FactsError([FactError("facts", "应为键值对象", "must be an object")])
        today = today or dt.date.today()
        values: dict[str, Any] = {}
        errors: list[FactError] = []
        for name, value in raw.items():
            if name == "reference_date":
                try:
                    values[name] = parse_date(value)
                except ValueError as exc:
                    errors.append(FactError(name, *exc.args))
                continue
            spec = FACT_SPECS.get(name)
            if spec is None:
                errors.append(FactError(str(name), "未知的事实字段", "unknown fact"))
                continue
            try:
                values[name] = parse_value(spec, value, today=today)
            except ValueError as exc:
                errors.append(FactError(name, *exc.args))
        if not errors:
            errors = check_together(values, on or values.get("reference_date") or today)
        if errors:
            raise FactsError(errors)
        return cls(**values)

    def value(self, name: str) -> Any:
        return getattr(self, name)

    def replace(self, **changes: Any) -> Facts:
        return dataclasses.replace(self, **changes)

    def given(self) -> dict[str, Any]:
        """The facts that differ from "none", as JSON-ready values."""
        out: dict[str, Any] = {}
        for name, spec in FACT_SPECS.items():
            value = getattr(self, name)
            if value != spec.default():
                out[name] = to_json_value(spec, value)
        return out


def to_json_value(spec: FactSpec, value: Any) -> Any:
    if value is None:
        return None
    if spec.kind == "date":
        return value.isoformat()
    if spec.kind == "decimal":
        return int(value) if value == value.to_integral_value() else float(value)
    return value


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A number as it is written: ASCII digits, one optional point, an optional sign; no "_", no
# exponent, no other scripts' digits (Python's int() would read "3_6" and "٣٦" as 36).
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def parse_date(value: Any) -> dt.date | None:
    """A date written YYYY-MM-DD (ASCII digits), a date object, or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("不是有效的日期，应为 YYYY-MM-DD", "not a valid date, expected YYYY-MM-DD")


def parse_value(spec: FactSpec, value: Any, *, today: dt.date) -> Any:
    """One fact from untrusted input; raises ValueError(zh, en)."""
    if spec.kind == "date":
        parsed = parse_date(value)
        if parsed is not None and parsed > today:
            raise ValueError("日期不能晚于今天", "date must not be in the future")
        return parsed
    if value is None or (isinstance(value, str) and value.strip() == "" and spec.kind != "enum"):
        return spec.default()
    if spec.kind == "enum":
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            return "none"
        if not isinstance(value, str) or value not in spec.levels:
            allowed = ", ".join(spec.levels)
            raise ValueError(f"不是有效的选项，可选：{allowed}", f"not one of: {allowed}")
        return value
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
            return True
        if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError("应为是或否", "must be true or false")
    if spec.kind == "int":
        if type(value) is int and spec.minimum <= value <= spec.maximum:
            return value
        if type(value) is str and len(value) < 10 and value.isascii() and value.isdigit():
            number = int(value)  # "36", as a cell holds it: no need of a Decimal
        else:
            number = _parse_number(value)
            if number != number.to_integral_value():
                raise ValueError("应为整数", "must be a whole number")
            number = int(number)
    else:
        number = _parse_number(value)
        if (number * spec.scale) != (number * spec.scale).to_integral_value():
            places = len(str(spec.scale)) - 1
            raise ValueError(f"最多保留 {places} 位小数", f"at most {places} decimal places")
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(f"不能小于 {spec.minimum}", f"must be at least {spec.minimum}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"不能大于 {spec.maximum}", f"must be at most {spec.maximum}")
    return number


class JsonNumber(str):
    """A JSON number literal with a fraction or exponent, kept as written (`99.50`, `1e2`): it is
    read exactly, never through a binary float, on every path that reads JSON."""


def load_json(text: str | bytes) -> Any:
    """JSON as the facts readers take it: integers as ints, other numbers as `JsonNumber`.
    `NaN` and `Infinity`, which Python's reader would take, are not JSON: refused."""
    return json.loads(text, parse_float=JsonNumber, parse_constant=_not_json)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("应为数字", "must be a number")
    if isinstance(value, JsonNumber):
        number = Decimal(value)  # the JSON grammar has made sure it is a number
        if abs(number.adjusted()) > 40:
            raise ValueError("数字过长", "number too long")
        return number
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("应为有限的数字", "must be a finite number")
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("应为有限的数字", "must be a finite number")
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40:
            raise ValueError("数字过长", "number too long")
        if not _NUMBER_RE.fullmatch(text):
            raise ValueError("应为数字", "must be a number")
        return Decimal(text)
    raise ValueError("应为数字", "must be a number")
