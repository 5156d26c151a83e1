"""The office foundation on SQLite and PostgreSQL: migrations, protected personal data, accounts,
rounds, the import (whole file checked first, nothing half-written) and the audit chain."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from office_helpers import HEADER, good_rows, id_number, round_config, write_csv
from pg_cluster import pg_dump
from sqlalchemy import inspect, text
from sqlmodel import func, select

from app.accounts.actor import Actor
from app.accounts.models import User
from app.accounts.operations import AccountError, Forbidden, create_user, password_matches
from app.applications.importer import ImportRefused, import_applications, read_sheet, write_report
from app.applications.models import Applicant, Application, ClaimedFact, ScoreSnapshot
from app.applications.operations import list_applications
from app.audit.models import AuditEntry
from app.audit.operations import GENESIS, Event, record_many, verify_chain
from app.db import transaction
from app.migrate import current
from app.protect import (
    DecryptError,
    IdNumberError,
    check_id_number,
    decrypt,
    encrypt,
    lookup_hash,
    mask_id,
    mask_phone,
)
from app.rounds.operations import RoundError, create_round

CITY = Actor.command_line()
TODAY = dt.date(2026, 12, 1)  # the test round's window opens 2027-02-20
ROOT = Path(__file__).resolve().parents[2]


def set_up_round(engine, config=None):
    with transaction(engine) as session:
        create_round(session, CITY, config or round_config(), today=TODAY)


def count(engine, model) -> int:
    with transaction(engine, write=False) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def run_import(engine, keys, path, actor=CITY, **kwargs):
    with transaction(engine) as session:
        return import_applications(session, actor, "zs-2026-p1", path, keys, today=TODAY, **kwargs)


# ---- migrations ------------------------------------------------------------------------------


def test_migrations_reach_head_from_an_empty_database(engine):
    assert current(engine) == "0014"
    tables = set(inspect(engine).get_table_names())
    assert {"applicant", "application", "claimed_fact", "score_snapshot", "audit_entry",
            "audit_head", "staff_user", "staff_user_zone", "staff_session", "round",
            "round_version", "zone", "round_zone", "school"} <= tables  # fmt: skip


def test_the_migrations_build_exactly_the_models_tables(engine):
    """Every table, column and index of the models, and nothing else, is what the migrations
    make (a model changed without its migration shows here, on each database)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import app.models  # noqa: F401  (every table registered)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"render_as_batch": True})
        assert compare_metadata(context, SQLModel.metadata) == []


# ---- people's data ----------------------------------------------------------------------------


def test_encryption_binds_the_field_and_detects_tampering(keys):
    blob = encrypt(keys, "id_number", "442000198803150124")
    assert b"442000198803150124" not in blob
    assert decrypt(keys, "id_number", blob) == "442000198803150124"
    with pytest.raises(DecryptError):
        decrypt(keys, "name", blob)  # moved to another column
    with pytest.raises(DecryptError):
        decrypt(keys, "id_number", blob[:-1] + bytes([blob[-1] ^ 1]))
    assert encrypt(keys, "id_number", "x") != encrypt(keys, "id_number", "x")  # fresh nonces
    assert lookup_hash(keys, "id_number", "a") == lookup_hash(keys, "id_number", "a")
    assert lookup_hash(keys, "id_number", "a") != lookup_hash(keys, "name", "a")


def test_id_numbers_are_checked_and_masked():
    good = id_number("19880315", 12)
    assert check_id_number(good.lower()) == good
    assert mask_id(good) == good[:6] + "*********" + good[-3:]
    assert mask_phone("13800138000") == "138****8000"
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(IdNumberError) as caught:
        check_id_number(wrong)
    assert caught.value.zh == "身份证号校验码不正确"
    with pytest.raises(IdNumberError) as caught:
        check_id_number("4420001988031501")
    assert caught.value.zh == "身份证号应为 18 位（前 17 位为数字，末位为数字或 X）"
    with pytest.raises(IdNumberError) as caught:
        check_id_number(good, dt.date(1988, 3, 16))
    assert caught.value.zh == "身份证号中的出生日期与出生日期一栏不一致"
    # A spreadsheet that kept the column as numbers: as 4.42E+17, or 15 digits and 000
    for shown in ("4.42000198803151E+17", "4.42E+17", "4.42000198803151e+17", "4.4200019880315E17"):
        with pytest.raises(IdNumberError) as caught:
            check_id_number(shown)
        assert caught.value.zh == (
            "身份证号被表格软件存成了数字（显示为 4.42E+17 这样的形式），后几位已经丢失：请把该列"
            "设为文本格式，重新填写号码后再导入"
        )
    with pytest.raises(IdNumberError) as caught:
        check_id_number(good[:15] + "000")
    assert caught.value.zh.startswith("身份证号校验码不正确：末 3 位为 000，可能是表格软件")


# ---- accounts --------------------------------------------------------------------------------


def test_accounts_are_created_by_the_city_with_rules_and_an_audit_entry(engine):
    set_up_round(engine)
    with transaction(engine) as session:
        create_user(session, CITY, "clerk1", "a long password 1", role="clerk", zones=["shiqi"])
    with transaction(engine, write=False) as session:
        user = session.exec(select(User).where(User.username == "clerk1")).one()
        assert password_matches(user, "a long password 1")
        assert not password_matches(user, "a long password 2")
        assert user.password_hash.startswith("$argon2id$")
    cases = [
        (dict(username="x", password="short", role="clerk", zones=["shiqi"]), "密码至少 12 个字符"),
        (dict(username="r", password="a long password 1", role="reviewer"),
         "部门审核账号需要 --department（hrss、police、tax、housing、education、civil）"),
        (dict(username="c", password="a long password 1", role="clerk", zones=["nowhere"]),
         "未知的镇街：nowhere"),
        (dict(username="clerk1", password="a long password 1", role="clerk", zones=["shiqi"]),
         "用户名 clerk1 已存在"),
    ]  # fmt: skip
    for kwargs, message in cases:
        with pytest.raises(AccountError) as caught, transaction(engine) as session:
            create_user(session, CITY, kwargs.pop("username"), kwargs.pop("password"), **kwargs)
        assert caught.value.zh == message
    clerk = Actor("clerk1", "clerk", frozenset({"shiqi"}))
    with pytest.raises(Forbidden), transaction(engine) as session:
        create_user(session, clerk, "other", "a long password 1", role="auditor")
    assert count(engine, User) == 1


# ---- rounds ----------------------------------------------------------------------------------


def test_rounds_are_checked_as_allocation_instances_and_versioned_until_the_window_opens(engine):
    set_up_round(engine)
    config = round_config()
    config["name"] = "中山市2026年积分入学（修订）"
    with transaction(engine) as session:
        assert create_round(session, CITY, config, today=TODAY).version == 2
    with pytest.raises(RoundError) as caught, transaction(engine) as session:
        create_round(session, CITY, config, today=dt.date(2027, 2, 20))
    assert caught.value.problems == [
        "round zs-2026-p1: the application window has opened, the configuration is fixed / "
        "申请已于 2027-02-20 开始，轮次配置不能再修改"
    ]
    bad = round_config()
    bad["id"] = "zs-2026-bad"
    bad["schools"][0]["zone"] = "nanlang"
    bad["application_window"] = ["2027-04-17", "2027-02-20"]
    bad["zones"][0]["office"] = {"hours": "", "fax": "0760-1"}
    bad["zones"][1]["office"] = "东区"
    with pytest.raises(RoundError) as caught, transaction(engine) as session:
        create_round(session, CITY, bad, today=TODAY)
    assert caught.value.problems == [
        "field 'application_window': ends before it starts / 结束日期早于开始日期",
        "zones id 'shiqi', field 'office.hours': a text of 1–200 characters / "
        "办公时间应为 1 到 200 个字的文字",
        "zones id 'shiqi', field 'office.fax': unknown field (name, address, hours, phone) / "
        "未知字段",
        "zones id 'dongqu', field 'office': must be an object / 受理窗口信息必须是对象",
        "schools id 'S001', field 'zone': unknown zone 'nanlang' / 未知镇街",
    ]


# ---- import ----------------------------------------------------------------------------------


def test_a_good_file_is_imported_in_one_transaction_with_numbers_facts_scores_and_audit(
    engine, keys, tmp_path
):
    set_up_round(engine)
    path = write_csv(tmp_path / "in.csv", good_rows(3))
    done = run_import(engine, keys, path)
    assert (done.count, done.first, done.last) == (3, "ZS2026-P1-000001", "ZS2026-P1-000003")
    with transaction(engine, write=False) as session:
        apps = session.exec(select(Application).order_by(Application.id)).all()
        assert [(a.application_no, a.zone_id, a.status) for a in apps] == [
            ("ZS2026-P1-000001", "shiqi", "verifying"),
            ("ZS2026-P1-000002", "dongqu", "verifying"),
            ("ZS2026-P1-000003", "shiqi", "verifying"),
        ]
        facts = session.exec(
            select(ClaimedFact.fact, ClaimedFact.department, ClaimedFact.claimed, ClaimedFact.state)
            .where(ClaimedFact.application_id == apps[0].id)
            .order_by(ClaimedFact.fact)
        ).all()
        assert facts == [
            ("child_grade", "education", '"primary1"', "claimed"),
            ("education", "education", '"bachelor"', "claimed"),
            ("insured_last_month_city", "hrss", "true", "claimed"),
            ("insured_months_city", "hrss", "12", "claimed"),
            ("residence_permit_held", "police", "true", "claimed"),
            ("residence_permit_months", "police", "0", "claimed"),
        ]
        snapshot = session.exec(
            select(ScoreSnapshot).where(ScoreSnapshot.application_id == apps[1].id)
        ).one()
        # zhongshan-2025-school: 13 months of pension 13 points, residence permit 1 month 1
        assert (snapshot.table_id, snapshot.total_cents, snapshot.basis) == (
            "zhongshan-2025-school", 1400, "claimed",
        )  # fmt: skip
        applicant = session.get(Applicant, apps[0].applicant_id)
        assert decrypt(keys, "name", applicant.name_enc) == "申请人0"
        actions = session.exec(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        # one entry for the file (its SHA-256 and the numbers given), not one per row
        assert actions == ["round.create", "application.import"]
    assert verify_chain_ok(engine) == 2


def verify_chain_ok(engine) -> int:
    with transaction(engine, write=False) as session:
        report = verify_chain(session)
    assert report.ok, report
    return report.entries


def test_every_bad_cell_is_reported_and_nothing_is_imported(engine, keys, tmp_path):
    set_up_round(engine)
    rows = good_rows(2)
    twin = list(rows[0])
    wrong_check = id_number("19900720", 45)
    wrong_check = wrong_check[:-1] + ("0" if wrong_check[-1] != "0" else "1")
    rows += [
        ["王五", wrong_check, "nanlang", "school-p9", "123", "", "S999", "也许", "phd", "3_6", "5"],
        ["赵六", id_number("20000101", 1), "shiqi", "school-p1", "", "", "S101;S001;S001", "", "",
         "-3", ""],
        twin,
        ["钱七", "", "shiqi", "school-p1", "", "", "", "", "", "", ""],
    ]  # fmt: skip
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(ImportRefused) as caught:
        run_import(engine, keys, path)
    assert [str(p) for p in caught.value.problems] == [
        "第 4 行 身份证号：身份证号校验码不正确 / row 4, 身份证号: the check digit does not match",
        "第 4 行 镇街：不是本轮的镇街：nanlang / row 4, 镇街: not a zone of this round",
        "第 4 行 类别：不是本轮的类别（可选：school-p1） / "
        "row 4, 类别: not a category of this round (school-p1)",
        "第 4 行 手机：不是有效的手机或固定电话号码 / row 4, 手机: not a valid phone number",
        "第 4 行 志愿：未知的学校：S999 / row 4, 志愿: unknown school S999",
        "第 4 行 服从调剂：应为是或否 / row 4, 服从调剂: must be true or false",
        "第 4 行 education：不是有效的选项，可选：none, primary, junior_high, senior_high, "
        "associate, bachelor, bachelor_degree, master, doctor / row 4, education: not one of: "
        "none, primary, junior_high, senior_high, associate, bachelor, bachelor_degree, master, "
        "doctor",
        "第 4 行 insured_months_city：应为数字 / row 4, insured_months_city: must be a number",
        "第 5 行 志愿：学校 S101 不属于本镇街的本类别 / "
        "row 5, 志愿: S101 is not of this zone and category",
        "第 5 行 志愿：志愿中学校重复 / row 5, 志愿: a school is chosen twice",
        "第 5 行 insured_months_city：不能小于 0 / row 5, insured_months_city: must be at least 0",
        "第 6 行 身份证号：与第 2 行是同一人（身份证号重复） / "
        "row 6, 身份证号: same person as row 2",
        "第 7 行 身份证号：必填 / row 7, 身份证号: required",
    ]  # fmt: skip
    assert count(engine, Application) == 0 and count(engine, Applicant) == 0
    report = tmp_path / "report.xlsx"
    write_report(caught.value.sheet, caught.value.problems, report)
    back = read_sheet(report)
    assert back.header == [*HEADER, "错误原因"]
    assert back.rows[2][1][-1].startswith("身份证号：身份证号校验码不正确；镇街：不是本轮的镇街")


def test_id_numbers_a_spreadsheet_kept_as_numbers_are_named_for_what_happened(
    engine, keys, tmp_path
):
    """Excel keeps 15 digits of a number: an ID column taken for numbers is saved as 4.42E+17
    in a CSV file, and as a number in an XLSX file, either way with its last digits gone."""
    from openpyxl import Workbook

    set_up_round(engine)
    rows = good_rows(3)
    as_shown = rows[1][1]
    rows[1][1] = f"{int(as_shown[:3]) / 100:.2f}E+17"  # what Excel's CSV holds: 4.42E+17
    rows[2][1] = as_shown[:15] + "000"  # the same number saved with the format "0"
    message = (
        "身份证号被表格软件存成了数字（显示为 4.42E+17 这样的形式），后几位已经丢失：请把该列设为"
        "文本格式，重新填写号码后再导入"
    )
    with pytest.raises(ImportRefused) as caught:
        run_import(engine, keys, write_csv(tmp_path / "excel.csv", rows))
    problems = [(p.row, p.column, p.zh) for p in caught.value.problems]
    assert problems[0] == (3, "身份证号", message)
    assert problems[1][:2] == (4, "身份证号")
    assert problems[1][2].startswith("身份证号校验码不正确：末 3 位为 000")
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in good_rows(2):
        sheet.append(row)
    sheet["B3"] = float(sheet["B3"].value[:17] + "0")  # a number, as Excel stores it
    book.save(tmp_path / "excel.xlsx")
    with pytest.raises(ImportRefused) as caught:
        run_import(engine, keys, tmp_path / "excel.xlsx")
    assert [(p.row, p.column, p.zh) for p in caught.value.problems] == [(3, "身份证号", message)]
    assert count(engine, Application) == 0


def test_one_bad_row_among_ten_thousand_imports_nothing(engine, keys, tmp_path):
    set_up_round(engine)
    rows = good_rows(10_000)
    rows[7_777][9] = "-3"
    path = write_csv(tmp_path / "big.csv", rows)
    with pytest.raises(ImportRefused) as caught:
        run_import(engine, keys, path)
    assert [str(p) for p in caught.value.problems] == [
        "第 7779 行 insured_months_city：不能小于 0 / "
        "row 7779, insured_months_city: must be at least 0"
    ]
    assert count(engine, Application) == 0
    rows[7_777][9] = "3"
    write_csv(path, rows)
    assert run_import(engine, keys, path).count == 10_000
    assert count(engine, ClaimedFact) == 60_000  # six claimed facts per row


def test_duplicates_against_the_round_and_across_zones_are_caught(engine, keys, tmp_path):
    set_up_round(engine)
    first = good_rows(1)
    run_import(engine, keys, write_csv(tmp_path / "a.csv", first))
    moved = [list(first[0])]
    moved[0][2], moved[0][6] = "dongqu", "S101"  # the same person, applying in another zone
    with pytest.raises(ImportRefused) as caught:
        run_import(engine, keys, write_csv(tmp_path / "b.csv", moved))
    assert [str(p) for p in caught.value.problems] == [
        "第 2 行 身份证号：此人已有本轮申请 ZS2026-P1-000001 / "
        "row 2, 身份证号: already applied in this round: ZS2026-P1-000001"
    ]


def test_a_clerk_imports_only_for_their_zones(engine, keys, tmp_path):
    set_up_round(engine)
    clerk = Actor("clerk1", "clerk", frozenset({"shiqi"}))
    with pytest.raises(ImportRefused) as caught:
        run_import(engine, keys, write_csv(tmp_path / "a.csv", good_rows(2)), actor=clerk)
    assert [str(p) for p in caught.value.problems] == [
        "第 3 行 镇街：不属于您负责的镇街 / row 3, 镇街: not one of your zones"
    ]
    run_import(engine, keys, write_csv(tmp_path / "b.csv", good_rows(1)), actor=clerk)
    with transaction(engine, write=False) as session:
        assert list_applications(session, clerk, "zs-2026-p1") == [
            {"application_no": "ZS2026-P1-000001", "zone": "shiqi", "category": "school-p1",
             "status": "verifying", "ranking_score": 12},
        ]  # fmt: skip
        other = Actor("clerk2", "clerk", frozenset({"dongqu"}))
        assert list_applications(session, other, "zs-2026-p1") == []


def test_xlsx_with_merged_cells_and_excel_dates(engine, keys, tmp_path):
    from openpyxl import Workbook

    set_up_round(engine)
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "镇街", "类别", "志愿", "birth_date", "insured_months_city"])
    sheet.append(["甲", id_number("19880315", 1), "shiqi", "school-p1", "S001",
                  dt.datetime(1988, 3, 15), 36])  # fmt: skip
    sheet.append(["乙", id_number("19900101", 2), None, "school-p1", "S002",
                  dt.datetime(1990, 1, 1), 24.0])  # fmt: skip
    sheet.merge_cells("C2:C3")  # the zone typed once for both rows
    path = tmp_path / "in.xlsx"
    book.save(path)
    assert run_import(engine, keys, path).count == 2
    with transaction(engine, write=False) as session:
        zones = session.exec(select(Application.zone_id).order_by(Application.id)).all()
        assert zones == ["shiqi", "shiqi"]


def test_a_sheet_that_reaches_too_far_is_refused_before_it_is_laid_out(engine, keys, tmp_path):
    """The reader lays a sheet out from A1 to its farthest cell: one cell at XFD1048576 would
    ask for half a terabyte. Such a file, and one whose cells do not say where they are, is
    refused with a message (and the process lives on); a merged range past the last typed row
    adds no rows."""
    import zipfile

    from openpyxl import Workbook

    set_up_round(engine)
    too_far = (
        "表格使用的范围过大（行号须小于 300,000，列不超过 CB 列），"
        "请删除表格中多余的行和列后再导入 / "
        "the sheet reaches too far (rows numbered below 300,000, columns up to CB)"
    )

    def workbook(name, far_cell=None, merge=None):
        book = Workbook()
        sheet = book.active
        sheet.row_dimensions[1_000_000].height = 30  # a row given a height holds no cell
        sheet.append(["姓名", "身份证号", "镇街", "类别", "志愿"])
        sheet.append(["甲", id_number("19880315", 1), "shiqi", "school-p1", "S001"])
        sheet.append(["乙", id_number("19900101", 2), None, "school-p1", "S002"])
        if far_cell:
            sheet[far_cell] = "x"
        if merge:
            sheet.merge_cells(merge)
        book.save(tmp_path / name)
        return tmp_path / name

    def problems(path):
        with pytest.raises(ImportRefused) as caught:
            run_import(engine, keys, path)
        return [str(p) for p in caught.value.problems]

    assert problems(workbook("far.xlsx", "XFD1048576")) == [too_far]
    assert problems(workbook("rows.xlsx", "A300000")) == [too_far]
    assert problems(workbook("columns.xlsx", "CC2")) == [too_far]
    # the same cells, written without their positions
    placed = workbook("placed.xlsx")
    unplaced = tmp_path / "unplaced.xlsx"
    with zipfile.ZipFile(placed) as source, zipfile.ZipFile(unplaced, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.startswith("xl/worksheets/"):
                content = re.sub(rb'<c r="[A-Z]+[0-9]+"', b"<c", content)
            target.writestr(info, content)
    assert problems(unplaced) == [
        "此 XLSX 文件的单元格没有标明位置，请用 Excel 或 WPS 打开后另存，再导入 / the cells of "
        "this XLSX file do not say where they are: save it again from Excel or WPS"
    ]
    assert count(engine, Application) == 0
    # the 80th column is within the bounds; the zone merged from C2 far past the last row
    # fills row 3 and makes no rows of its own
    assert run_import(engine, keys, workbook("near.xlsx", "CB3", merge="C2:C400")).count == 2
    with transaction(engine, write=False) as session:
        zones = session.exec(select(Application.zone_id).order_by(Application.id)).all()
        assert zones == ["shiqi", "shiqi"]


def _workbook(path, sheet_rows, *, part="xl/worksheets/sheet1.xml", prefix=""):
    """An XLSX file written by hand: the header 姓名, 月数, then `sheet_rows` (XML), its sheet
    stored at `part`; `prefix` ("x:") writes every element of the sheet with a namespace prefix."""
    import zipfile

    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    p = prefix
    header = (
        f'<{p}row r="1"><{p}c r="A1" t="inlineStr"><{p}is><{p}t>姓名</{p}t></{p}is></{p}c>'
        f'<{p}c r="B1" t="inlineStr"><{p}is><{p}t>月数</{p}t></{p}is></{p}c></{p}row>'
    )
    names = f'xmlns:{p[:-1]}="{main}"' if p else f'xmlns="{main}"'
    sheet = (
        f"<{p}worksheet {names}><{p}sheetData>{header}{sheet_rows}</{p}sheetData></{p}worksheet>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        package = "http://schemas.openxmlformats.org/package/2006"
        archive.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{package}/content-types"><Default Extension="rels" ContentType='
            '"application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml"'
            ' ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}/relationships"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        target = part.removeprefix("xl/")
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="{target}"/></Relationships>',
        )
        archive.writestr(part, sheet)
    return path


def test_crafted_sheets_end_with_a_message_and_unusual_good_ones_are_read(tmp_path):
    """Every way found to hide a far cell from the first search (lower case, single quotes, a
    tab, a sheet stored elsewhere) is refused with the message; the reading's own child ends
    on anything else, with a message too; files written unusually but well are read."""
    from app.applications import xlsx

    def outcome(name, rows, **kwargs):
        try:
            sheet = read_sheet(_workbook(tmp_path / name, rows, **kwargs))
        except ImportRefused as refused:
            return [str(p) for p in refused.problems]
        return sheet.rows

    too_far = (
        "表格使用的范围过大（行号须小于 300,000，列不超过 CB 列），"
        "请删除表格中多余的行和列后再导入 / "
        "the sheet reaches too far (rows numbered below 300,000, columns up to CB)"
    )
    unplaced = (
        "此 XLSX 文件的单元格没有标明位置，请用 Excel 或 WPS 打开后另存，再导入 / the cells of "
        "this XLSX file do not say where they are: save it again from Excel or WPS"
    )
    far = '<row r="2"><c r="XFD1048576"><v>1</v></c></row>'
    assert outcome("lower.xlsx", '<row r="2"><c r="xfd1048576"><v>1</v></c></row>') == [too_far]
    assert outcome("quote.xlsx", "<row r='2'><c\tr='XFD1048576'><v>1</v></c></row>") == [too_far]
    assert outcome("tab.xlsx", '<row r="1048576">' + '<c\tt="n"><v>1</v></c>' * 100 + "</row>") == [
        unplaced
    ]
    assert outcome("elsewhere.xlsx", far, part="xl/other/sheet1.xml") == [too_far]
    assert outcome("capital.xlsx", far, part="xl/Worksheets/sheet1.XML") == [too_far]
    assert outcome("row300000.xlsx", '<row r="300000"><c r="A300000"><v>1</v></c></row>') == [
        too_far
    ]
    name = '<c r="A2" t="inlineStr"><is><t>张</t></is></c>'
    assert outcome(
        "prefixed.xlsx",
        f'<row r="2">{name}</row>'.replace("<", "<x:").replace("<x:/", "</x:"),
        prefix="x:",
    ) == [(2, ["张", ""])]
    assert outcome("order.xlsx", '<row r="2"><c s="0" r="A2" t="inlineStr"><is><t>张</t></is></c>'
                   '<c t="n" r="B2"><v>36</v></c></row>') == [(2, ["张", "36"])]  # fmt: skip
    assert outcome(
        "text.xlsx", '<row r="2"><c r="A2" t="inlineStr"><is><t>备注:c 类</t></is></c></row>'
    ) == [(2, ["备注:c 类", ""])]
    assert outcome(
        "digits.xlsx", f'<row r="2">{name}<c r="B2"><v>1500000000000000</v></c></row>'
    ) == [(2, ["张", "1500000000000000"])]
    error = f'<row r="2">{name}<c r="b2" t=\'e\'><f>1/0</f><v>#DIV/0!</v></c></row>'
    assert outcome("error.xlsx", error, part="xl/data/sheet1.xml") == [
        "第 2 行 月数：单元格是错误值 #DIV/0!（公式出错），请更正后再导入 / "
        "row 2, 月数: the cell holds an error value #DIV/0! (a formula that failed)"
    ]
    # a cell at the edge of the reach, read in a child given too little memory for it
    edge = '<row r="299999"><c r="CB299999"><v>1</v></c></row>'
    original = xlsx.MEMORY_LIMIT
    xlsx.MEMORY_LIMIT = 400 * 1024**2
    try:
        assert outcome("edge.xlsx", edge) == [
            "无法读取此 XLSX 文件：读取时超出了内存或时间的限制（文件过大或已损坏），"
            "请删除多余的内容或另存为 CSV 后再导入 / the XLSX file could not be read within the "
            "memory and time allowed (too large or damaged)"
        ]
    finally:
        xlsx.MEMORY_LIMIT = original


def test_a_cell_holding_an_error_value_is_named_not_read_as_empty(engine, keys, tmp_path):
    """A formula that failed (#DIV/0!) leaves an error value, which the reader would give as an
    empty cell, so a fact would silently count as none: each such cell of the first sheet is a
    problem of its own row and column (another sheet's are not), and the report marks it."""
    import zipfile

    from openpyxl import Workbook, load_workbook

    set_up_round(engine)
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "镇街", "类别", "志愿", "insured_months_city"])
    sheet.append(["甲", id_number("19880315", 1), "shiqi", "school-p1", "S001", 36])
    sheet.append(["乙", id_number("19900101", 2), "shiqi", "school-p1", "S002", 24])
    book.create_sheet("备注")["A1"] = 7
    book.save(tmp_path / "good.xlsx")
    path = tmp_path / "errors.xlsx"
    with zipfile.ZipFile(tmp_path / "good.xlsx") as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(
                    b'<c r="F2" t="n"><v>36</v></c>',
                    b'<c r="F2" t="e"><f>A1/0</f><v>#DIV/0!</v></c>',
                )
                content = content.replace(b'<c r="F3" t="n"><v>24</v></c>', b'<c r="F3" t="e"/>')
            if info.filename == "xl/worksheets/sheet2.xml":
                content = content.replace(
                    b'<c r="A1" t="n"><v>7</v></c>', b'<c r="A1" t="e"><v>#N/A</v></c>'
                )
            target.writestr(info, content)
    with pytest.raises(ImportRefused) as caught:
        run_import(engine, keys, path)
    assert [str(p) for p in caught.value.problems] == [
        "第 2 行 insured_months_city：单元格是错误值 #DIV/0!（公式出错），请更正后再导入 / "
        "row 2, insured_months_city: the cell holds an error value #DIV/0! (a formula that failed)",
        "第 3 行 insured_months_city：单元格是错误值（公式出错），请更正后再导入 / "
        "row 3, insured_months_city: the cell holds an error value (a formula that failed)",
    ]
    assert count(engine, Application) == 0
    report = tmp_path / "report.xlsx"
    write_report(caught.value.sheet, caught.value.problems, report)
    marked = load_workbook(report).active
    assert marked["F2"].fill.fgColor.rgb == "00FFC7CE"
    assert marked["F2"].comment.text == "单元格是错误值 #DIV/0!（公式出错），请更正后再导入"
    assert marked["F3"].fill.fgColor.rgb == "00FFC7CE"


def test_no_clear_id_number_reaches_the_database(engine, keys, tmp_path, request):
    set_up_round(engine)
    rows = good_rows(200)
    for row in rows[:50]:
        row[4] = "13800138000"
    run_import(engine, keys, write_csv(tmp_path / "in.csv", rows))
    if engine.dialect.name == "sqlite":
        engine.dispose()  # checkpoint the WAL into the file
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("jifen.sqlite*"))
    else:
        raw = _pg_dump(engine, request.getfixturevalue("postgres_server"))
    for row in rows:
        assert row[1].encode() not in raw
        assert row[0].encode("utf-8") not in raw
    assert b"13800138000" not in raw
    from stdnum.cn import ric

    candidates = set(re.findall(rb"[0-9]{17}[0-9Xx]", raw))
    assert [c for c in candidates if ric.is_valid(c.decode())] == []


def _pg_dump(engine, sockets: str) -> bytes:
    return pg_dump(sockets, engine.url.database)


def _stored(engine) -> dict[str, list]:
    """Every row an import wrote, without ids and times (which differ from run to run)."""
    queries = {
        "applications": "SELECT application_no, zone_id, category, family, choices,"
        " accept_any_in_zone, status, ranking_cents, total_cents, eligible FROM application"
        " ORDER BY application_no",
        "facts": "SELECT a.application_no, f.fact, f.department, f.claimed, f.state"
        " FROM claimed_fact f JOIN application a ON a.id = f.application_id"
        " ORDER BY a.application_no, f.fact",
        "snapshots": "SELECT a.application_no, s.table_sha256, s.total_cents, s.ranking_cents,"
        " s.result FROM score_snapshot s JOIN application a ON a.id = s.application_id"
        " ORDER BY a.application_no",
        "applicants": "SELECT id_number_hash, name_hash FROM applicant ORDER BY id_number_hash",
        "audit": "SELECT action, object_id, zone, diff FROM audit_entry ORDER BY seq",
    }
    with engine.connect() as connection:
        return {k: [tuple(r) for r in connection.execute(text(q))] for k, q in queries.items()}


def test_a_large_file_checked_by_helper_processes_is_stored_as_one_checked_inline(
    engine, keys, tmp_path, monkeypatch
):
    """A file above the helpers' threshold is checked in helper processes while this one
    writes: the same rows, numbers, facts, scores and audit entries as the same file checked
    here, and a bad row in a late chunk still leaves nothing."""
    from app.applications import parallel

    path = write_csv(tmp_path / "in.csv", good_rows(40))
    set_up_round(engine)
    monkeypatch.setattr(parallel, "CHUNK", 7)
    assert run_import(engine, keys, path).count == 40  # 40 rows: below PARALLEL_FROM, inline
    inline = _stored(engine)
    with engine.begin() as connection:
        for name in ("audit_entry", "score_snapshot", "claimed_fact", "application", "applicant"):
            connection.execute(text(f"DELETE FROM {name}"))
        connection.execute(text("UPDATE round SET next_number = 1"))
        connection.execute(text("UPDATE audit_head SET seq = 0, hash = :g"), {"g": GENESIS})
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 10)
    pools = []

    class Pool(parallel.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append((args[0], kwargs["initargs"][1]))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Pool)
    assert run_import(engine, keys, path).count == 40
    # the helpers did check the rows; beside a PostgreSQL server, at the lowest priority
    niceness = 19 if engine.dialect.name == "postgresql" else 0
    assert pools == [(max(1, (os.cpu_count() or 1) - 1), niceness)]
    helped = _stored(engine)
    assert helped["audit"] == inline["audit"][1:]  # the round's creation was deleted
    assert {k: v for k, v in helped.items() if k != "audit"} == {
        k: v for k, v in inline.items() if k != "audit"
    }
    assert len(helped["facts"]) == 40 * 6
    rows = good_rows(40, start=100)
    rows[33][1] = "440101199001011234"  # a bad checksum in the fifth chunk of seven rows
    with pytest.raises(ImportRefused) as refused:
        run_import(engine, keys, write_csv(tmp_path / "bad.csv", rows))
    assert [p.row for p in refused.value.problems] == [35]
    assert count(engine, Application) == 40  # the first four chunks were written, then undone


def test_a_process_killed_in_the_middle_of_an_import_leaves_nothing(engine, keys, tmp_path):
    """The importing process is killed (SIGKILL, no clean-up) after its rows are written and
    before the commit: the database holds none of them."""
    set_up_round(engine)
    path = write_csv(tmp_path / "in.csv", good_rows(500))
    script = f"""
import datetime as dt, os, signal
from pathlib import Path
import app.applications.importer as importer
from app.accounts.actor import Actor
from app.db import make_engine, transaction
from app.protect import DataKeys

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

importer.Writer.finish = die  # the last step of the write, after every row is inserted
engine = make_engine({engine.url.render_as_string(hide_password=False)!r})
keys = DataKeys.from_secret("test data key, long enough for the HKDF input")
with transaction(engine) as session:
    importer.import_applications(
        session, Actor.command_line(), "zs-2026-p1", Path({str(path)!r}), keys,
        today=dt.date(2026, 12, 1),
    )
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()
    assert count(engine, Application) == 0 and count(engine, Applicant) == 0
    assert count(engine, ClaimedFact) == 0
    assert run_import(engine, keys, path).count == 500  # and the database is usable


# ---- the audit chain -------------------------------------------------------------------------


def append_events(engine, n: int) -> None:
    """n audit entries about applications, as the office's operations write them."""
    with transaction(engine) as session:
        record_many(session, CITY, [
            Event("fact.confirm", object_type="application", object_id=f"ZS2026-P1-{k:06d}",
                  zone="shiqi", diff={"fact": "education", "state": "confirmed"})
            for k in range(1, n + 1)
        ])  # fmt: skip


def test_the_audit_chain_names_the_first_altered_removed_or_truncated_entry(engine, keys, tmp_path):
    set_up_round(engine)
    append_events(engine, 6)
    assert verify_chain_ok(engine) == 7
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_entry SET diff = '{}' WHERE seq = 4"))
    with transaction(engine, write=False) as session:
        report = verify_chain(session)
    assert (report.entries, report.broken_at, report.reason) == (3, 4, "entry altered / 记录被改动")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE seq >= 4"))
    with transaction(engine, write=False) as session:
        report = verify_chain(session)
    assert (report.broken_at, report.reason) == (
        4, "entries after 3 were removed / 第 3 条之后的记录被删除",
    )  # fmt: skip


def test_a_chain_split_with_a_helper_process_finds_the_same_first_break(
    engine, keys, tmp_path, monkeypatch
):
    """`jifen audit verify` checks a long chain in two halves (a helper process takes the
    second): a break in either half, a missing entry and a cut tail are found as in one pass."""
    from app.audit import operations

    monkeypatch.setattr(operations, "HELPER_FROM", 4)
    set_up_round(engine)
    append_events(engine, 10)  # 11 entries

    def both():
        with transaction(engine, write=False) as session:
            one = verify_chain(session)
            two = verify_chain(session, helper=True)
        assert one == two
        return (two.entries, two.broken_at, two.reason)

    assert both() == (11, None, "")
    with engine.begin() as connection:  # the second half (5 is the middle)
        connection.execute(text("UPDATE audit_entry SET actor = 'x' WHERE seq = 8"))
    assert both() == (7, 8, "entry altered / 记录被改动")
    with engine.begin() as connection:  # and the first: the first break is the one named
        connection.execute(text("UPDATE audit_entry SET zone = 'x' WHERE seq = 2"))
    assert both() == (1, 2, "entry altered / 记录被改动")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE seq <= 2"))
    assert both() == (0, 1, "entry 1 is missing / 第 1 条缺失")


def test_a_chain_missing_its_middle_or_its_tail_is_broken_in_halves_too(
    engine, keys, tmp_path, monkeypatch
):
    from app.audit import operations

    monkeypatch.setattr(operations, "HELPER_FROM", 4)
    set_up_round(engine)
    append_events(engine, 10)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE seq = 5"))
    with transaction(engine, write=False) as session:
        report = verify_chain(session, helper=True)
    assert (report.entries, report.broken_at) == (4, 5)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entry WHERE seq >= 5"))
    with transaction(engine, write=False) as session:
        report = verify_chain(session, helper=True)
    assert (report.broken_at, report.reason) == (
        5, "entries after 4 were removed / 第 4 条之后的记录被删除",
    )  # fmt: skip


# Any text a field may hold, control characters, quotes, backslashes, U+2028 and emoji included.
_FIELD_TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12
)  # PostgreSQL text holds no NUL


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    texts=st.lists(
        st.tuples(_FIELD_TEXT, _FIELD_TEXT, st.dictionaries(_FIELD_TEXT, _FIELD_TEXT, max_size=3)),
        min_size=1,
        max_size=6,
    )
)
def test_postgresql_checks_the_chain_as_python_hashes_it(postgres_engine, texts):
    """On PostgreSQL the chain is checked by the database (its JSON of the fields must be
    byte for byte orjson's); the check in Python over the same rows agrees."""
    from app.audit import operations

    events = [
        Event("test.text", object_type="t", object_id=oid[:64], zone=zone[:32], diff=diff)
        for oid, zone, diff in texts
    ]
    with transaction(postgres_engine) as session:
        record_many(session, Actor('cli:测试"\\', "admin"), events)
    with transaction(postgres_engine, write=False) as session:
        in_database = verify_chain(session)
        total = session.connection().exec_driver_sql("SELECT max(seq) FROM audit_entry").scalar()
        in_python = operations._verify_stretch(session, 0, None, operations.GENESIS)
    assert in_database.ok, in_database
    assert (in_python.broken_at, in_python.entries) == (None, total)


def test_a_household_applicants_id_number_dates_their_facts_a_school_childs_does_not(
    engine, keys, tmp_path
):
    """A household application is the points holder's: the ID number's birth date checks the
    facts. A school application is the child's, scored on a parent's facts."""
    from app.demo import household_round

    with transaction(engine) as session:
        create_round(session, CITY, household_round(TODAY), today=TODAY)
    header = ["姓名", "身份证号", "镇街", "类别", "birth_date", "insured_months_city"]
    child = id_number("20190315", 7)
    rows = [["甲", child, "shiqi", "hukou", "", "12"],
            ["乙", id_number("19900101", 8), "dongqu", "hukou", "1990-01-02", ""]]  # fmt: skip
    with pytest.raises(ImportRefused) as caught, transaction(engine) as session:
        import_applications(session, CITY, "zs-demo-hukou", write_csv(tmp_path / "h.csv", rows,
                            header), keys, today=TODAY)  # fmt: skip
    assert [str(p) for p in caught.value.problems] == [
        "第 2 行 insured_months_city：到参照日（2026-12-01）未满 16 周岁，不能有此月数 / "
        "row 2, insured_months_city: under 16 on the reference date (2026-12-01): no such months",
        "第 3 行 身份证号：身份证号中的出生日期与出生日期一栏不一致 / "
        "row 3, 身份证号: the birth date in the ID number differs from birth_date",
    ]
    set_up_round(engine)
    school = [["甲", child, "shiqi", "school-p1", "1988-03-16", "12"]]
    done = run_import(engine, keys, write_csv(tmp_path / "s.csv", school, header))
    assert done.count == 1


def test_the_other_kinds_of_bad_file_and_cell(engine, keys, tmp_path):
    set_up_round(engine)

    def problems(path):
        with pytest.raises(ImportRefused) as caught:
            run_import(engine, keys, path)
        return [str(p) for p in caught.value.problems]

    header = ["姓名", "身份证号", "镇街", "类别", "家庭", "志愿", "birth_date", "colour"]
    assert problems(write_csv(tmp_path / "a.csv", [], header)) == [
        "第 1 行 colour：未知的列 / row 1, colour: unknown column"
    ]
    assert problems(write_csv(tmp_path / "b.csv", [], ["姓名", "name"])) == [
        "第 1 行 name：列重复 / row 1, name: repeated column",
        "第 1 行 身份证号：缺少必填列（id_number 或 身份证号） / "
        "row 1, 身份证号: required column missing",
        "第 1 行 镇街：缺少必填列（zone 或 镇街） / row 1, 镇街: required column missing",
        "第 1 行 类别：缺少必填列（category 或 类别） / row 1, 类别: required column missing",
    ]
    born = id_number("19880315", 7)
    rows = [
        ["名" * 51, born, "shiqi", "school-p1", "F9", "S001", "1988-03-16"],
        ["乙", id_number("19900101", 8), "dongqu", "school-p1", "F9", "S101", ""],
    ]
    assert problems(write_csv(tmp_path / "c.csv", rows, header[:7])) == [
        "第 2 行 姓名：姓名不能超过 50 个字 / row 2, 姓名: at most 50 characters",
        "第 2 行 家庭：家庭 F9 的成员须在同一镇街、同一类别申请 / "
        "row 2, 家庭: family F9: members must share zone and category",
        "第 3 行 家庭：家庭 F9 的成员须在同一镇街、同一类别申请 / "
        "row 3, 家庭: family F9: members must share zone and category",
    ]
    (tmp_path / "d.csv").write_bytes("姓名,身份证号,镇街,类别\n张三,1,shiqi,p\n".encode("gbk"))
    assert problems(tmp_path / "d.csv") == [
        "CSV 文件须为 UTF-8 编码（Excel 另存为“CSV UTF-8”） / CSV must be UTF-8"
    ]
    (tmp_path / "e.xlsx").write_bytes(b"not a workbook")
    assert problems(tmp_path / "e.xlsx") == [
        "不是有效的 XLSX 文件 / not a valid XLSX file (BadZipFile)"
    ]
    assert count(engine, Application) == 0


def test_a_family_id_an_earlier_file_used_is_another_family_and_refused(engine, keys, tmp_path):
    """Two windows both number their families F01: the second file's F01 is another family,
    and joining it to the first would place unrelated children in one school or none."""
    set_up_round(engine)
    rows = [r for r in good_rows(12) if r[2] == "shiqi"]
    for row in rows[:2]:
        row[5] = "F01"
    first = run_import(engine, keys, write_csv(tmp_path / "first.csv", rows[:3]))
    later = [list(r) for r in rows[3:6]]
    later[0][5] = later[2][5] = "F01"
    later[1][5] = "F02"
    with pytest.raises(ImportRefused) as caught:
        run_import(engine, keys, write_csv(tmp_path / "later.csv", later))
    message = (
        f"家庭编号 F01 在本轮已用于其他申请（{first.first}），同一家庭的子女须在同一文件中导入，"
        "另一家庭请换用其他编号"
    )
    assert [(p.row, p.column, p.zh) for p in caught.value.problems] == [
        (2, "家庭", message),
        (4, "家庭", message),
    ]
    assert count(engine, Application) == 3
    later[0][5] = later[2][5] = "F03"
    assert run_import(engine, keys, write_csv(tmp_path / "fixed.csv", later)).count == 3
    with transaction(engine, write=False) as session:
        families = session.exec(select(Application.family).order_by(Application.id)).all()
    assert families == ["F01", "F01", "", "F03", "F02", "F03"]


def test_a_household_round_takes_no_school_choices(engine, keys, tmp_path):
    config = round_config()
    config.update(id="zs-2026-hk", table="guangdong-2010", schools=[])
    config["categories"] = [{"id": "hukou", "kind": "household", "total": 10}]
    set_up_round(engine, config)
    path = write_csv(
        tmp_path / "h.csv",
        [["甲", id_number("19880315", 9), "shiqi", "hukou", "S001", "是"]],
        ["姓名", "身份证号", "镇街", "类别", "志愿", "服从调剂"],
    )
    with pytest.raises(ImportRefused) as caught, transaction(engine) as session:
        import_applications(session, CITY, "zs-2026-hk", path, keys, today=TODAY)
    assert [str(p) for p in caught.value.problems] == [
        "第 2 行 志愿：入户类别不填志愿 / row 2, 志愿: a household category takes no choices",
        "第 2 行 志愿：未知的学校：S001 / row 2, 志愿: unknown school S001",
        "第 2 行 服从调剂：入户类别不适用服从调剂 / row 2, 服从调剂: only for school categories",
    ]


def test_bulk_inserts_store_exactly_what_the_orm_stores(engine):
    """insert_rows skips most of SQLAlchemy's per-value conversions: what lands in the
    database must still be byte for byte the ORM's (times, booleans, bytes, NULL)."""
    from app.db import insert_rows

    set_up_round(engine)
    now = dt.datetime(2026, 12, 1, 18, 0, 0, 123456, tzinfo=dt.UTC)
    applicant = {"id_number_hash": "h", "id_number_enc": b"\x00\xff", "name_hash": "n",
                 "name_enc": b"x", "phone_enc": None, "created_at": now}  # fmt: skip
    application = {"round_id": "zs-2026-p1", "zone_id": "shiqi", "category": "school-p1",
                   "family": "", "choices": "[]", "accept_any_in_zone": True,
                   "status": "verifying", "ranking_cents": None, "total_cents": 100,
                   "eligible": False, "version": 1, "created_at": now,
                   "source": "import"}  # fmt: skip
    with transaction(engine) as session:
        session.add(Applicant(id=1, **applicant))
        session.flush()
        insert_rows(session, Applicant.__table__, [{**applicant, "id": 2, "id_number_hash": "g"}])
        session.add(Application(id=1, application_no="A1", applicant_id=1, **application))
        session.flush()
        insert_rows(
            session, Application.__table__,
            [{**application, "id": 2, "application_no": "A2", "applicant_id": 2}],
        )  # fmt: skip
    with engine.connect() as connection:
        for table, columns in (
            ("applicant", "created_at, id_number_enc, phone_enc"),
            ("application", "created_at, accept_any_in_zone, eligible, ranking_cents"),
        ):
            rows = connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY id")).all()
            assert rows[0] == rows[1], table


def test_a_report_is_written_without_a_temporary_file_and_reads_as_openpyxl_would_save_it(
    tmp_path, monkeypatch
):
    """openpyxl zips each sheet from a named temporary file; the report (names, ID numbers) is
    made in memory instead, with the same cells, marks and comments."""
    from openpyxl import load_workbook
    from openpyxl.worksheet import _writer

    from app.applications.importer import Sheet, report_bytes
    from app.applications.rows import Problem

    rows = good_rows(3)
    sheet = Sheet(HEADER, [(n + 2, row) for n, row in enumerate(rows)], "0" * 64)
    problems = [Problem(3, "身份证号", "身份证号校验码不正确", "the check digit does not match")]

    def no_disk(*args, **kwargs):
        raise AssertionError("a temporary file was written")

    monkeypatch.setattr(_writer, "create_temporary_file", no_disk)
    (tmp_path / "report.xlsx").write_bytes(report_bytes(sheet, problems))
    back = load_workbook(tmp_path / "report.xlsx").active
    assert back.title == "导入检查"
    assert [c.value for c in back[1]] == [*HEADER, "错误原因"]
    assert [c.value or "" for c in back[3]][: len(HEADER)] == rows[1]  # "" reads back as None
    assert back.cell(3, len(HEADER) + 1).value == "身份证号：身份证号校验码不正确"
    assert back.cell(3, 2).comment.text == "身份证号校验码不正确"
    assert back.cell(3, 2).fill.fgColor.rgb == "00FFC7CE" and back.cell(2, 2).comment is None
    assert back.max_row == 4
