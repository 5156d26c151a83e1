"""`jifen demo`: a demo city modelled on Zhongshan (中山), seeded through the real operations.

Twelve 镇街 with their real names and pinyin ids, a few plausible schools in each (the names and
seats are made up for the demo, not an official list), a 积分入学 round (小学一年级 and 初中一年级,
table zhongshan-2025-school) and a 积分入户 round (table guangdong-2010) whose application
windows are open on the day the demo is seeded, staff accounts of every role with random
temporary passwords, and synthetic applications imported from a generated CSV file exactly as a
clerk's file would be (`import_applications`: checked, scored, encrypted, audited).

Idempotent: rounds and accounts that exist already are left alone, a round that has applications
gets no more, so a second run creates nothing. Everything is written in one transaction.

The data is reproducible: the same seed and the same day give the same rows. Each row is one
applicant (the parent, for school places: the points are the parent's, and the importer checks
the months against the birth date in the ID number); a pair of siblings entering the same grade
(twins) is filed as a family under the two parents, since a person applies once per round.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import random
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import func, select
from stdnum.cn import ric

from app.accounts.actor import Actor
from app.accounts.models import DEPARTMENTS, User
from app.accounts.operations import create_user
from app.applications.importer import import_applications
from app.applications.models import Application
from app.db import transaction
from app.protect import DataKeys
from app.rounds.models import Round
from app.rounds.operations import create_round
from scoring.facts import add_years, months_between

DEFAULT_APPLICATIONS = 5000
DEFAULT_SEED = 20260
SCHOOL_ROUND = "zs-demo-school"
HOUSEHOLD_ROUND = "zs-demo-hukou"
PRIMARY, MIDDLE, HUKOU = "school-p1", "school-m1", "hukou"
# Shares of the applications: 小学一年级, 初中一年级, the rest 积分入户.
SHARES = {PRIMARY: 0.65, MIDDLE: 0.15}
TWINS = 0.025  # share of school rows that start a pair of siblings (filed under both parents)


# ---- the city ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoZone:
    id: str
    name: str
    code: str  # the prefix of its school ids
    weight: float  # roughly its share of migrant families
    primary: tuple[tuple[str, int], ...]  # (name, seats): 45 a class
    middle: tuple[tuple[str, int], ...]  # 50 a class


ZONES: tuple[DemoZone, ...] = (
    DemoZone("shiqi", "石岐街道", "SQ", 1.0,
             (("石岐中心小学", 90), ("石岐凤鸣小学", 45)), (("石岐初级中学", 50),)),
    DemoZone("dongqu", "东区街道", "DQ", 1.2,
             (("东区朗晴小学", 90), ("东区雍景园小学", 45), ("东区柏苑小学", 45)),
             (("东区柏苑中学", 50),)),
    DemoZone("xiqu", "西区街道", "XQ", 0.9,
             (("西区沙朗小学", 90), ("西区隆平小学", 45)), (("西区铁城初级中学", 50),)),
    DemoZone("nanqu", "南区街道", "NQ", 0.6,
             (("南区城南小学", 45), ("南区竹秀园小学", 45)), (("南区北溪中学", 50),)),
    DemoZone("huoju", "火炬开发区", "HJ", 1.8,
             (("火炬开发区第一小学", 135), ("火炬开发区濠头小学", 90), ("中山港小学", 45)),
             (("火炬开发区第一中学", 50), ("中山港初级中学", 50))),
    DemoZone("xiaolan", "小榄镇", "XL", 2.0,
             (("小榄镇中心小学", 135), ("小榄镇绩东一小学", 90), ("小榄镇东升小学", 90)),
             (("小榄镇初级中学", 50), ("小榄镇东升初级中学", 50))),
    DemoZone("guzhen", "古镇镇", "GZ", 1.5,
             (("古镇镇中心小学", 135), ("古镇镇海洲小学", 90)), (("古镇镇初级中学", 50),)),
    DemoZone("tanzhou", "坦洲镇", "TZ", 1.3,
             (("坦洲镇中心小学", 90), ("坦洲镇新合小学", 90)), (("坦洲镇初级中学", 50),)),
    DemoZone("henglan", "横栏镇", "HL", 0.9,
             (("横栏镇中心小学", 90), ("横栏镇贴边小学", 45)), (("横栏镇初级中学", 50),)),
    DemoZone("sanxiang", "三乡镇", "SX", 1.4,
             (("三乡镇中心小学", 90), ("三乡镇平南小学", 45), ("三乡镇雅居乐小学", 45)),
             (("三乡镇初级中学", 50),)),
    DemoZone("shaxi", "沙溪镇", "SA", 1.0,
             (("沙溪镇中心小学", 90), ("沙溪镇隆都小学", 45)), (("沙溪镇初级中学", 50),)),
    DemoZone("huangpu", "黄圃镇", "HP", 0.8,
             (("黄圃镇中心小学", 45), ("黄圃镇马新小学", 45)), (("黄圃镇初级中学", 50),)),
)  # fmt: skip
HOUSEHOLD_TOTAL = 300  # 积分入户 places of the demo year

# The demo's staff: (username, role, zones, department).
CLERK_ZONES = (("shiqi",), ("xiaolan",), ("tanzhou",), ("dongqu", "huoju"))


def staff() -> list[tuple[str, str, tuple[str, ...], str]]:
    people = [("demo-admin", "admin", (), "")]
    people += [(f"demo-clerk-{zones[0]}", "clerk", zones, "") for zones in CLERK_ZONES]
    people += [(f"demo-reviewer-{d}", "reviewer", (), d) for d in DEPARTMENTS]
    people.append(("demo-auditor", "auditor", (), ""))
    return people


def school_year(today: dt.date) -> int:
    """The school year the spring's applications are for (September of this year or the next)."""
    return today.year if today.month <= 8 else today.year + 1


def _school_id(zone: DemoZone, kind: str, k: int) -> str:
    return f"{zone.code}-{kind}{k + 1:02d}"  # SQ-X01 小学, SQ-C01 初中


def schools(category: str) -> list[dict]:
    out = []
    for zone in ZONES:
        listed = zone.primary if category == PRIMARY else zone.middle
        kind = "X" if category == PRIMARY else "C"
        out += [
            {"id": _school_id(zone, kind, k), "zone": zone.id, "category": category,
             "seats": seats, "name": name}
            for k, (name, seats) in enumerate(listed)
        ]  # fmt: skip
    return out


def _seats(listed: list[dict]) -> int:
    return sum(s["seats"] for s in listed)


def _zones() -> list[dict]:
    return [{"id": z.id, "name": z.name, "weight": z.weight, "office": _office(z)} for z in ZONES]


def _office(zone: DemoZone) -> dict:
    """Where the zone's applicants ask. The demo names the kind of office every 镇街 has and
    the usual government hours, and no street address or telephone it cannot vouch for."""
    return {
        "name": f"{zone.name}公共服务中心 积分受理窗口（演示）",
        "hours": "周一至周五 8:30–12:00、14:30–17:30（法定节假日除外）",
    }


def school_round(today: dt.date) -> dict:
    """The 积分入学 round: its window opened ten days ago and closes in seven weeks."""
    year = school_year(today)
    primary, middle = schools(PRIMARY), schools(MIDDLE)
    return {
        "format": "jifen.round/1",
        "id": SCHOOL_ROUND,
        "name": f"中山市{year}年流动人员子女积分入学（演示）",
        "year": year,
        "table": "zhongshan-2025-school",
        "application_window": [
            (today - dt.timedelta(days=10)).isoformat(),
            (today + dt.timedelta(days=50)).isoformat(),
        ],
        "publicity_days": 7,
        "objection_days": 3,
        "seed": f"{SCHOOL_ROUND} {year} demo seed",
        "tie_break": ["residence_permit_months", "insured_months_city"],
        "tie_policy": "lottery",
        "apportion": {"method": "hamilton", "basis": "demand"},
        "categories": [
            {"id": PRIMARY, "kind": "school", "name": "小学一年级", "total": _seats(primary)},
            {"id": MIDDLE, "kind": "school", "name": "初中一年级", "total": _seats(middle)},
        ],
        "zones": _zones(),
        "schools": primary + middle,
        "certificate": {
            "issuer": "中山市教育和体育局（演示）",
            "deadline": f"{year}-08-31",
            "notes": ["报到时请携带本通知书原件和户口簿、居住证原件。"],
        },
    }


def household_round(today: dt.date) -> dict:
    """The 积分入户 round: its window opened twenty days ago and closes in six weeks."""
    return {
        "format": "jifen.round/1",
        "id": HOUSEHOLD_ROUND,
        "name": f"中山市{today.year}年积分制入户（演示）",
        "year": today.year,
        "table": "guangdong-2010",
        "application_window": [
            (today - dt.timedelta(days=20)).isoformat(),
            (today + dt.timedelta(days=40)).isoformat(),
        ],
        "publicity_days": 7,
        "objection_days": 3,
        "seed": f"{HOUSEHOLD_ROUND} {today.year} demo seed",
        "tie_break": ["insured_months_city", "residence_permit_months"],
        "tie_policy": "lottery",
        "apportion": {"method": "hamilton", "basis": "demand"},
        "categories": [
            {"id": HUKOU, "kind": "household", "name": "积分入户", "total": HOUSEHOLD_TOTAL}
        ],
        "zones": _zones(),
        "schools": [],
        "certificate": {
            "issuer": "中山市流动人员服务管理办公室（演示）",
            "deadline": (today + dt.timedelta(days=180)).isoformat(),
        },
    }


# ---- people -----------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚"
    "邵万覃武戴莫孔汤温甘蓝欧冼麦植"
)
COMPOUND_SURNAMES = ("欧阳", "司徒", "上官", "诸葛", "司马", "东方")
MALE = "伟强磊军洋勇杰涛明超刚辉鹏华建文斌宇浩凯健俊帆旭宁龙林志国海振庆峰波亮东兵春荣成飞彬"
FEMALE = "芳娜敏静丽艳娟秀霞平桂英玉兰萍红玲雪琳婷梅燕云丹晶慧颖莹佳欣怡倩琴凤洁娇珍翠霞美月"
# Where migrants to Zhongshan come from: (region code, weight). A code is used only for the birth
# years the division existed (python-stdnum's table), so every ID number validates.
ORIGINS = (
    ("442000", 2), ("440823", 4), ("440882", 5), ("440825", 3), ("440923", 5), ("440981", 6),
    ("440982", 5), ("441581", 3), ("445281", 3), ("441424", 3), ("430426", 4), ("430524", 4),
    ("430521", 4), ("430623", 2), ("431021", 2), ("431121", 2), ("450881", 5), ("450921", 3),
    ("450923", 4), ("450422", 3), ("511321", 3), ("511324", 3), ("510921", 2), ("510922", 2),
    ("360733", 2), ("360731", 2), ("362131", 2), ("421181", 2), ("420982", 1), ("411526", 2),
    ("411524", 1), ("522121", 1), ("522422", 2), ("500236", 2), ("500235", 2), ("430221", 1),
    ("360121", 1), ("510122", 1),
)  # fmt: skip
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "199",
]


@functools.cache
def _origins(year: int) -> tuple[list[str], list[int]]:
    """The region codes valid for people born in `year`, with their weights."""
    codes, weights = [], []
    for code, weight in ORIGINS:
        base = f"{code}{year}0101001"
        if ric.is_valid(base + ric.calc_check_digit(base + "0")):
            codes.append(code)
            weights.append(weight)
    return codes, weights


@dataclass
class Person:
    name: str
    id_number: str
    born: dt.date
    male: bool
    phone: str


@dataclass
class People:
    """Distinct synthetic people (distinct ID numbers) drawn from one random generator."""

    rng: random.Random
    today: dt.date
    seen: set[str] = field(default_factory=set)

    def name(self, male: bool) -> str:
        rng = self.rng
        surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.01 else rng.choice(SURNAMES)
        chars = MALE if male else FEMALE
        given = rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.7 else "")
        return surname + given

    def person(self, youngest: int, oldest: int, male: bool | None = None) -> Person:
        """Someone aged `youngest` to `oldest` (completed years) today."""
        rng = self.rng
        male = rng.random() < 0.5 if male is None else male
        latest = add_years(self.today, -youngest)
        earliest = add_years(self.today, -oldest - 1) + dt.timedelta(days=1)
        while True:
            born = earliest + dt.timedelta(days=rng.randrange((latest - earliest).days + 1))
            codes, weights = _origins(born.year)
            region = rng.choices(codes, weights)[0] if codes else "360121"
            order = rng.randrange(1000) // 2 * 2 + (1 if male else 0)  # odd for men
            base = f"{region}{born:%Y%m%d}{order % 1000:03d}"
            number = base + ric.calc_check_digit(base + "0")
            if number not in self.seen:
                self.seen.add(number)
                break
        phone = ""
        if rng.random() < 0.92:
            phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        return Person(self.name(male), number, born, male, phone)

    def months_since_16(self, person: Person) -> int:
        return max(0, months_between(add_years(person.born, 16), self.today))


# ---- applications -----------------------------------------------------------------------------

FIRST_COLUMNS = ["姓名", "身份证号", "镇街", "类别", "手机", "家庭", "志愿", "服从调剂"]
SCHOOL_FACTS = [
    "residence_permit_months", "housing_fund_months", "insured_months_city",
    "medical_insured_months_city", "insured_months_province", "medical_insured_months_province",
    "residence_permit_held", "insured_last_month_city", "child_grade",
]  # fmt: skip
HOUSEHOLD_FACTS = [
    "education", "skill_level", "blood_donations", "volunteer_hours", "charity_yuan",
    "re_education", "criminal_record", "family_planning_violation_date", "insured_months_city",
    "residence_permit_months",
]  # fmt: skip
EDUCATION = (("primary", 2), ("junior_high", 30), ("senior_high", 30), ("associate", 20),
             ("bachelor", 13), ("bachelor_degree", 3), ("master", 2))  # fmt: skip
SKILL = (("none", 55), ("level5", 12), ("level4", 18), ("level3", 10), ("level2", 4),
         ("level1", 1))  # fmt: skip


def _pick(rng: random.Random, pairs) -> str:
    return rng.choices([v for v, _ in pairs], [w for _, w in pairs])[0]


def _city_months(people: People, person: Person) -> tuple[int, int]:
    """(months in Zhongshan, months elsewhere in Guangdong before) for someone's working life."""
    rng, limit = people.rng, people.months_since_16(person)
    if limit == 0:
        return 0, 0
    top = min(limit, 240)
    here = max(1, min(limit, int(rng.triangular(3, top, top * 0.35))))
    before = 0
    if rng.random() < 0.3 and limit > here:
        before = rng.randint(1, min(limit - here, 120))
    return here, before


def _school_facts(people: People, person: Person, category: str) -> dict[str, int | str]:
    rng = people.rng
    here, before = _city_months(people, person)
    permit = int(here * rng.uniform(0.55, 1.0)) if rng.random() < 0.97 else 0
    insured = int(here * rng.uniform(0.4, 1.0)) if rng.random() < 0.9 else 0
    medical = insured if rng.random() < 0.7 else int(insured * rng.uniform(0.6, 1.0))
    fund = int(insured * rng.uniform(0.2, 1.0)) if rng.random() < 0.3 else 0
    medical_before = before if rng.random() < 0.7 else int(before * 0.8)
    return {
        "residence_permit_months": permit,
        "housing_fund_months": fund,
        "insured_months_city": insured,
        "medical_insured_months_city": medical,
        "insured_months_province": before,
        "medical_insured_months_province": medical_before,
        # the basic conditions: a permit held now, insured here now, the entry grade applied for
        "residence_permit_held": "是" if permit else "",
        "insured_last_month_city": "是" if insured else "",
        "child_grade": "primary1" if category == PRIMARY else "junior1",
    }


def _household_facts(people: People, person: Person) -> dict[str, str | int]:
    rng, today = people.rng, people.today
    here, _ = _city_months(people, person)
    education = _pick(rng, EDUCATION)
    skill = _pick(rng, SKILL) if education in ("primary", "junior_high", "senior_high") else (
        "none" if rng.random() < 0.8 else _pick(rng, SKILL)
    )  # fmt: skip
    volunteer = ""
    if rng.random() < 0.3:
        volunteer = str(rng.randint(4, 800) / 2).removesuffix(".0")  # half hours
    violation = ""
    adult = add_years(person.born, 20)
    if rng.random() < 0.015 and adult < today - dt.timedelta(days=60):
        days = (today - dt.timedelta(days=60) - adult).days
        violation = (adult + dt.timedelta(days=rng.randrange(days + 1))).isoformat()
    return {
        "education": education,
        "skill_level": skill,
        "blood_donations": rng.randint(1, 8) if rng.random() < 0.25 else "",
        "volunteer_hours": volunteer,
        "charity_yuan": rng.randrange(100, 10_001, 50) if rng.random() < 0.2 else "",
        "re_education": "是" if rng.random() < 0.002 else "",
        "criminal_record": "是" if rng.random() < 0.003 else "否",  # 无犯罪记录证明: police verify
        "family_planning_violation_date": violation,
        "insured_months_city": int(here * rng.uniform(0.4, 1.0)) if rng.random() < 0.9 else 0,
        "residence_permit_months": int(here * rng.uniform(0.55, 1.0)),
    }


# A fact of none (0 months, no donations) is left blank, as a clerk leaves it: only the facts an
# applicant claims go to a department to verify.


def _zone_picker(rng: random.Random):
    weights = [z.weight for z in ZONES]
    return lambda: rng.choices(ZONES, weights)[0]


def school_rows(people: People, counts: dict[str, int]) -> tuple[list[str], list[list]]:
    """Rows of the school round's import file: `counts` applicants per category (parents of
    children of 6 for 小学一年级, of 12 for 初中一年级), some siblings filed as a family."""
    rng, pick_zone = people.rng, _zone_picker(people.rng)
    header = FIRST_COLUMNS + SCHOOL_FACTS
    rows: list[list] = []
    families = 0
    for category, n in counts.items():
        ages = (26, 45) if category == PRIMARY else (31, 50)
        listed = {z.id: [s["id"] for s in schools(category) if s["zone"] == z.id] for z in ZONES}
        made = 0
        while made < n:
            zone = pick_zone()
            options = listed[zone.id]
            k = rng.randint(1, min(3, len(options)))
            choices = rng.choices(options, [len(options) - i for i in range(len(options))], k=k)
            choices = list(dict.fromkeys(choices))  # the popular schools first, no repeats
            accept = "是" if rng.random() < 0.7 else "否"
            parents = [people.person(*ages)]
            family = ""
            if made + 1 < n and rng.random() < TWINS:
                families += 1
                family = f"JT{families:04d}"
                first = parents[0]
                age = max(ages[0], min(ages[1], (people.today - first.born).days // 365
                                       + rng.randint(-4, 4)))  # fmt: skip
                parents.append(people.person(age, age, male=not first.male))
            for parent in parents:
                facts = _school_facts(people, parent, category)
                rows.append(
                    [parent.name, parent.id_number, zone.id, category, parent.phone, family,
                     ";".join(choices), accept, *(facts[f] or "" for f in SCHOOL_FACTS)]
                )  # fmt: skip
                made += 1
    return header, rows


def household_rows(people: People, n: int) -> tuple[list[str], list[list]]:
    """Rows of the household round's import file: n applicants aged 20 to 50."""
    pick_zone = _zone_picker(people.rng)
    header = FIRST_COLUMNS + HOUSEHOLD_FACTS
    rows = []
    for _ in range(n):
        person = people.person(20, 50)
        facts = _household_facts(people, person)
        rows.append(
            [person.name, person.id_number, pick_zone().id, HUKOU, person.phone, "", "", "",
             *(facts[f] or "" for f in HOUSEHOLD_FACTS)]
        )  # fmt: skip
    return header, rows


def split(applications: int) -> dict[str, int]:
    primary = round(applications * SHARES[PRIMARY])
    middle = round(applications * SHARES[MIDDLE])
    return {PRIMARY: primary, MIDDLE: middle, HUKOU: max(0, applications - primary - middle)}


def generate(
    applications: int, today: dt.date, seed: int = DEFAULT_SEED
) -> dict[str, tuple[list[str], list[list]]]:
    """The import files' rows by round id (reproducible: the same seed and day, the same rows)."""
    counts = split(applications)
    people = People(random.Random(seed), today)
    return {
        SCHOOL_ROUND: school_rows(people, {PRIMARY: counts[PRIMARY], MIDDLE: counts[MIDDLE]}),
        HOUSEHOLD_ROUND: household_rows(people, counts[HUKOU]),
    }


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ---- seeding ----------------------------------------------------------------------------------

PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_password() -> str:
    """19 characters, four groups of four from 56 unambiguous characters (about 93 bits)."""
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    scope: str  # zones or department, as shown
    password: str


@dataclass
class Seeded:
    rounds: list[str] = field(default_factory=list)
    logins: list[Login] = field(default_factory=list)
    imported: dict[str, int] = field(default_factory=dict)

    @property
    def nothing(self) -> bool:
        return not (self.rounds or self.logins or self.imported)


def seed_demo(
    engine: Engine,
    keys: DataKeys,
    *,
    today: dt.date,
    applications: int = DEFAULT_APPLICATIONS,
    seed: int = DEFAULT_SEED,
    actor: Actor | None = None,
) -> Seeded:
    """Create whatever of the demo is missing, in one transaction. Returns what was created
    (with the passwords of the new accounts, which are nowhere else in clear)."""
    actor = actor or Actor.command_line()
    done = Seeded()
    configs = [school_round(today), household_round(today)]
    with transaction(engine) as session:
        for config in configs:
            if session.get(Round, config["id"]) is None:
                create_round(session, actor, config, today=today)
                done.rounds.append(config["id"])
        names = {u for u, *_ in staff()}
        existing = set(session.exec(select(User.username).where(User.username.in_(names))))
        for username, role, zones, department in staff():
            if username in existing:
                continue
            password = new_password()
            create_user(
                session, actor, username, password, role=role, zones=list(zones),
                department=department, temporary=True,
            )  # fmt: skip
            done.logins.append(Login(username, role, _scope(zones, department), password))
        empty = [
            c["id"]
            for c in configs
            if not session.exec(
                select(func.count()).select_from(Application).where(Application.round_id == c["id"])
            ).one()
        ]
        if empty and applications > 0:
            files = generate(applications, today, seed)
            with tempfile.TemporaryDirectory(prefix="jifen-demo-") as folder:
                for round_id in empty:
                    header, rows = files[round_id]
                    if not rows:
                        continue
                    path = write_csv(Path(folder) / f"{round_id}.csv", header, rows)
                    result = import_applications(session, actor, round_id, path, keys, today=today)
                    done.imported[round_id] = result.count
    return done


def _scope(zones: tuple[str, ...], department: str) -> str:
    names = {z.id: z.name for z in ZONES}
    if zones:
        return "、".join(f"{z} {names[z]}" for z in zones)
    return f"{department} {DEPARTMENTS[department]}" if department else "全市 all zones"


def report(done: Seeded) -> Iterator[str]:
    """What `jifen demo` prints: what it created, and the new accounts' passwords, once."""
    if done.nothing:
        yield "演示数据已存在，未作改动 / the demo is already there: nothing created"
        return
    if done.rounds:
        yield f"已创建轮次 / rounds created: {', '.join(done.rounds)}"
    for round_id, count in done.imported.items():
        yield f"已导入 {count} 条演示申请 / {count} demo applications imported into {round_id}"
    if done.logins:
        yield ""
        yield "演示账号（仅供演示）：密码只显示这一次，首次登录时必须修改。"
        yield (
            "Demo accounts, for demonstration only: the passwords are shown this once and must "
            "be changed at first login."
        )
        width = max(len(login.username) for login in done.logins)
        yield f"  {'username':{width}}  {'role':8}  {'password':19}  zones / department"
        for login in done.logins:
            yield f"  {login.username:{width}}  {login.role:8}  {login.password:19}  {login.scope}"
