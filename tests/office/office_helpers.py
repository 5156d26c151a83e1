"""Test data for the office: valid ID numbers, import files, a round."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from stdnum.cn import ric

from app.localtime import beijing_today

FIXTURES = Path(__file__).parent / "fixtures"
KEYS_SECRET = "test data key, long enough for the HKDF input"  # the data key of the tests
PASSWORD = "a long password 1"  # every test account's
OFFICE_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')  # the office pages' CSRF field
HEADER = ["姓名", "身份证号", "镇街", "类别", "手机", "家庭", "志愿", "服从调剂", "education",
          "insured_months_city", "residence_permit_months",
          # the basic conditions of the school programme, met by every good row
          "residence_permit_held", "insured_last_month_city", "child_grade"]  # fmt: skip


def id_number(born: str, seq: int, region: str = "442000") -> str:
    """A valid 居民身份证号码 (checksum right) for a birth date YYYYMMDD and a sequence number."""
    base = f"{region}{born}{seq % 1000:03d}"
    return base + ric.calc_check_digit(base + "0")


def round_config() -> dict:
    return json.loads((FIXTURES / "zs-2026-p1.json").read_text(encoding="utf-8"))


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


REGIONS = ("442000", "440103", "440106", "440305", "441900", "440111", "441802")


def good_rows(n: int, start: int = 0) -> list[list[str]]:
    """n distinct applicants over the two zones of the test round."""
    rows = []
    for k in range(start, start + n):
        zone, school = ("shiqi", "S001;S002") if k % 2 == 0 else ("dongqu", "S101")
        born = f"19{88 + k % 11}0{1 + k % 9}1{k % 9}"
        number = id_number(born, k // 7 % 1000, region=REGIONS[k % 7])
        rows.append(
            [f"申请人{k}", number, zone, "school-p1", "", "", school, "是", "bachelor",
             str(12 + k % 60), str(k % 50), "是", "是", "primary1"]
        )  # fmt: skip
    return rows


def office_app(engine, keys, tmp_path, **config):
    """The app on a test database, with the test data keys and its own instance folder."""
    from app import create_app

    app = create_app(
        {
            "SECRET_KEY": "office test key " * 4,
            "TESTING": True,
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            **config,
        }
    )
    app.extensions["jifen_keys"] = keys
    app.extensions["jifen_engine"] = engine
    app.instance_path = str(tmp_path / "instance")
    return app


def token(client, path="/office/login") -> str:
    """The CSRF token of an office page."""
    found = OFFICE_TOKEN.search(client.get(path).get_data(as_text=True))
    assert found, path
    return found.group(1)


def login(client, username, password=PASSWORD):
    return client.post(
        "/office/login",
        data={"username": username, "password": password, "csrf_token": token(client)},
    )


def round_with_applications(engine, keys, tmp_path, rows: list[list[str]]) -> None:
    """The test round, with these rows imported by the city (ZS2026-P1-000001, …)."""

    from app.accounts.actor import Actor
    from app.applications.importer import import_applications
    from app.db import transaction
    from app.rounds.operations import create_round

    city = Actor.command_line()
    with transaction(engine) as session:
        create_round(session, city, round_config(), today=beijing_today())
    with transaction(engine) as session:
        import_applications(
            session, city, "zs-2026-p1", write_csv(tmp_path / "in.csv", rows), keys,
            today=beijing_today(),
        )  # fmt: skip
