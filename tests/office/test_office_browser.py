"""A clerk in Debian chromium at desktop size: logs in, imports a bad file and sees its report,
imports the corrected file, opens an application; then a reviewer of 人社 corrects a fact from
the department's queue. The admin runs a round from the office to its end, and the 公示 and the
status pages are read on a phone. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from office_helpers import good_rows, id_number, round_config, write_csv
from werkzeug.serving import make_server

from app import create_app
from app.accounts.actor import Actor
from app.accounts.operations import create_user
from app.db import make_engine, transaction
from app.localtime import beijing_today
from app.migrate import upgrade
from app.protect import DataKeys
from app.rounds.operations import create_round

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def serve(tmp_path, config: dict, today: dt.date):
    """A live office on a fresh SQLite database with this round, a clerk and a reviewer."""
    engine = make_engine(f"sqlite:///{tmp_path / 'office.sqlite'}")
    upgrade(engine)
    with transaction(engine) as session:
        city = Actor.command_line()
        create_round(session, city, config, today=today)
        create_user(session, city, "clerk1", "a long password 1", role="clerk", zones=["shiqi"])
        create_user(session, city, "hrss1", "a long password 1", role="reviewer", department="hrss")
    app = create_app(
        {
            "SECRET_KEY": "browser test key " * 3,
            "RATELIMIT_ENABLED": False,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'office.sqlite'}",
        }
    )
    app.extensions["jifen_keys"] = DataKeys.from_secret("browser test data key " * 2)
    app.instance_path = str(tmp_path / "instance")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def office_url(tmp_path):
    server, thread = serve(tmp_path, round_config(), beijing_today())
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def open_round_url(tmp_path):
    """The same round with its application window open today."""
    today = beijing_today()
    config = round_config()
    config["application_window"] = [
        (today - dt.timedelta(days=3)).isoformat(),
        (today + dt.timedelta(days=30)).isoformat(),
    ]
    server, thread = serve(tmp_path, config, today - dt.timedelta(days=10))
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_a_parent_applies_online_is_returned_and_corrects_on_a_phone(open_round_url):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(**p.devices["iPhone 13"], locale="zh-CN").new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{open_round_url}/check/zhongshan-2025-school")
        for question, choice in (("已是本市户籍", "否"), ("持有本市居住证", "是"),
                                 ("申请前一个月在本市参保", "是")):  # fmt: skip
            page.locator("fieldset.radios", has_text=question).get_by_label(
                choice, exact=True
            ).check()
        page.get_by_label("孩子申请入读的年级").select_option("primary1")
        page.locator("#insured_months_city__years").fill("3")
        page.get_by_role("button", name="计算积分").click()
        page.click("#apply-link")
        assert "本市社保缴费月数：36 个月" in page.locator("#carried").inner_text()
        page.get_by_label("学生姓名").fill("王小明")
        page.get_by_label("学生身份证号").fill(id_number("19880512", 21))
        page.get_by_label("手机").fill("13800138000")
        page.get_by_label("申请镇街").select_option("shiqi")
        page.get_by_label("申请类别").select_option("school-p1")
        page.get_by_label("第一志愿").select_option("S002")
        page.get_by_label("第 2 个孩子的姓名").fill("王小红")  # a twin applies too
        page.get_by_label("第 2 个孩子的身份证号").fill(id_number("19880512", 22))
        page.locator("#committed").check()
        page.screenshot(path=str(ARTIFACTS / "apply-form.png"), full_page=True)
        page.get_by_role("button", name="提交申报").click()
        assert page.locator("#application-no").inner_text() == "ZS2026-P1-000001"
        assert "受理编号 ZS2026-P1-000002" in page.locator("#family-numbers").inner_text()
        page.screenshot(path=str(ARTIFACTS / "apply-done.png"), full_page=True)

        # the clerk of 石岐 returns it: the insurance months do not match the statement
        clerk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        clerk.goto(f"{open_round_url}/office/login")
        clerk.fill("#username", "clerk1")
        clerk.fill("#password", "a long password 1")
        clerk.click("button[type=submit]")
        clerk.goto(f"{open_round_url}/office/applications/ZS2026-P1-000001")
        clerk.get_by_role("button", name="我来处理").click()
        assert "您正在处理此申请" in clerk.locator("#hold").inner_text()
        # the parent asked at the window to swap the first choice: a recorded correction
        clerk.locator("#choices-correction summary").click()
        clerk.locator("#fix-choice-0").select_option("S001")
        clerk.fill("#choices-reason", "申请人到窗口书面申请更正志愿")
        clerk.get_by_role("button", name="更正志愿").click()
        assert clerk.locator("#choices-now").inner_text().startswith("石岐中心小学")
        clerk.screenshot(path=str(ARTIFACTS / "office-application-held.png"), full_page=True)
        clerk.fill("#return-reason", "社保月数与缴费清单不符，请按清单填写")
        clerk.get_by_role("button", name="退回申请人补正").click()
        assert "社保月数与缴费清单不符" in clerk.locator("#messages").inner_text()

        # the parent looks it up, reads why, and corrects it on the phone
        page.goto(f"{open_round_url}/status")
        page.get_by_label("受理编号").fill("ZS2026-P1-000001")
        page.get_by_label("身份证号").fill(id_number("19880512", 21))
        page.get_by_label("姓名").fill("王小明")
        page.get_by_role("button", name="查询").click()
        assert "社保月数与缴费清单不符" in page.locator("#returned").inner_text()
        page.screenshot(path=str(ARTIFACTS / "status-returned.png"), full_page=True)
        page.locator("#correction #insured_months_city__years").fill("4")
        page.get_by_role("button", name="提交补正").click()
        assert page.locator("#notice").inner_text() == "已提交补正，申请重新进入核验。"
        assert page.locator("#status-now").inner_text() == "核验中"
        page.screenshot(path=str(ARTIFACTS / "status-corrected.png"), full_page=True)
        browser.close()


def test_a_clerk_imports_sees_the_report_and_opens_an_application(office_url, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    rows = [r for r in good_rows(12) if r[2] == "shiqi"]
    bad = [list(r) for r in rows]
    bad[2][9] = "3_6"
    bad[4][1] = bad[4][1][:-1] + ("0" if bad[4][1][-1] != "0" else "1")
    bad_file = write_csv(tmp_path / "申请（有误）.csv", bad)
    good_file = write_csv(tmp_path / "申请.csv", rows)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(10_000)
        page.goto(f"{office_url}/office/login")
        page.screenshot(path=str(ARTIFACTS / "office-login.png"))
        page.fill("#username", "clerk1")
        page.fill("#password", "a long password 1")
        page.click("button[type=submit]")
        assert page.locator("#rounds").inner_text().count("中山市2026年积分入学") == 1
        page.click("text=批量导入")
        page.set_input_files("#file", str(bad_file))
        page.click("form.office-form button[type=submit]")
        problems = page.locator("#problems").inner_text()
        assert "发现 2 处错误，未导入任何记录" in problems
        assert "第 4 行 insured_months_city：应为数字" in problems
        assert "第 6 行 身份证号：身份证号校验码不正确" in problems
        page.screenshot(path=str(ARTIFACTS / "office-import-report.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#report-link")
        assert download.value.suggested_filename == "导入检查报告.xlsx"
        page.set_input_files("#file", str(good_file))
        page.click("form.office-form button[type=submit]")
        assert "已导入 6 条申请" in page.locator("#imported").inner_text()
        page.click("#imported a")
        assert "共 6 件" in page.locator("#count").inner_text()
        page.screenshot(path=str(ARTIFACTS / "office-list.png"), full_page=True)
        page.click("#applications tbody a >> nth=0")
        masked = page.locator("#id-number").inner_text()
        assert "*********" in masked and masked not in {r[1] for r in rows}
        assert page.locator("#items").inner_text().count("持有中山居住证") == 1
        page.screenshot(path=str(ARTIFACTS / "office-detail.png"), full_page=True)

        # a reviewer of 人社 takes the oldest application of the queue and corrects a fact
        reviewer = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        reviewer.set_default_timeout(10_000)
        reviewer.goto(f"{office_url}/office/login")
        reviewer.fill("#username", "hrss1")
        reviewer.fill("#password", "a long password 1")
        reviewer.click("button[type=submit]")
        reviewer.click("text=核验队列")
        assert "待核验的申请（6 份）" in reviewer.locator("#list-h").inner_text()
        reviewer.screenshot(path=str(ARTIFACTS / "office-queue.png"), full_page=True)
        reviewer.click("#queue tbody a >> nth=0")
        form = reviewer.locator("#settle-insured_months_city")
        form.get_by_label("更正为").check()
        form.locator("input[name=value]").fill("40")
        form.locator("input[name=reason]").fill("缴费清单显示 40 个月")
        form.locator("input[name=evidence]").fill("社保缴费清单至 2026-11")
        reviewer.screenshot(path=str(ARTIFACTS / "office-settle.png"), full_page=True)
        form.get_by_role("button", name="提交核验").click()
        assert "已记录对“本市社保缴费月数”的核验。" in reviewer.locator("#settled").inner_text()
        row = reviewer.locator('tr[data-fact="insured_months_city"]').inner_text()
        assert "已更正" in row and "原因：缴费清单显示 40 个月" in row

        # the applicant looks the application up on a phone
        number = reviewer.locator("h1").inner_text().removeprefix("申请 ").strip()
        person = next(r for r in rows if r[0] == f"申请人{int(number[-6:]) * 2 - 2}")
        phone = browser.new_context(**p.devices["iPhone 13"], locale="zh-CN").new_page()
        phone.goto(f"{office_url}/status")
        phone.get_by_label("受理编号").fill(number)
        phone.get_by_label("身份证号").fill(person[1])
        phone.get_by_label("姓名").fill(person[0])
        phone.get_by_role("button", name="查询").click()
        assert phone.locator("#status-now").inner_text() == "核验中"
        fact = phone.locator('tr[data-fact="insured_months_city"]').inner_text()
        assert "核验为：40 个月" in fact and "人社说明：缴费清单显示 40 个月" in fact
        phone.screenshot(path=str(ARTIFACTS / "status-phone.png"), full_page=True)
        browser.close()


def test_the_publicity_list_reads_on_a_phone(tmp_path):
    """A published round's zone list at phone size: ranks, masked names, cut-offs."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    from app.applications.importer import import_applications
    from app.publicity.operations import publish
    from app.rounds.allocation import allocate_round

    config = round_config()
    config["application_window"] = ["2026-01-05", "2026-02-05"]
    server, thread = serve(tmp_path, config, dt.date(2026, 1, 1))
    engine = make_engine(f"sqlite:///{tmp_path / 'office.sqlite'}")
    keys, city, today = (
        DataKeys.from_secret("browser test data key " * 2),
        Actor.command_line(),
        beijing_today(),
    )
    with transaction(engine) as session:
        rows = write_csv(tmp_path / "in.csv", good_rows(40))
        import_applications(session, city, "zs-2026-p1", rows, keys,
                            today=dt.date(2026, 1, 10), verified=True)  # fmt: skip
    with transaction(engine) as session:
        allocate_round(session, city, "zs-2026-p1", today=today)
        publish(session, city, "zs-2026-p1", today=today)
    ARTIFACTS.mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                    device_scale_factor=2)  # fmt: skip
            page.goto(f"{base}/publicity/zs-2026-p1")
            page.click("text=石岐街道")
            assert page.locator("#ranked tbody tr").count() == 20
            assert "申**" in page.locator("#ranked").inner_text()
            page.screenshot(path=str(ARTIFACTS / "publicity-zone-phone.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
        thread.join(5)
        engine.dispose()


def test_the_city_runs_the_round_from_the_office_and_the_publicity_reads_on_a_phone(
    tmp_path, monkeypatch
):
    """The admin opens the round (desktop), allocates it as a background job (run at once
    here), sees the job's result, publishes the 公示, reads a zone's list on a phone (390 x
    844) and, once the 公示 and objection days are over, finalizes; an ineligible applicant
    reads why on the phone."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make system-packages`")
    from playwright.sync_api import sync_playwright

    from app import db as app_db
    from app.applications.importer import import_applications
    from app.jobs import huey
    from app.rounds.models import Round

    config = round_config()
    config["application_window"] = ["2026-01-05", "2026-02-05"]
    server, thread = serve(tmp_path, config, dt.date(2026, 1, 1))
    url = f"sqlite:///{tmp_path / 'office.sqlite'}"
    monkeypatch.setattr(huey, "immediate", True)  # the job runs at once, in the server thread
    monkeypatch.setenv("DATABASE_URL", url)  # where the job finds the database
    engine = make_engine(url)
    keys, city = DataKeys.from_secret("browser test data key " * 2), Actor.command_line()
    rows = good_rows(40)  # 12 + 2k points: 申请人0 … 申请人8 are under the line of 30
    rows[9][12] = "否"  # 申请人9 (dongqu) was not insured here last month: a condition fails
    with transaction(engine) as session:
        create_user(session, city, "admin1", "a long password 1", role="admin")
        import_applications(session, city, "zs-2026-p1", write_csv(tmp_path / "in.csv", rows),
                            keys, today=dt.date(2026, 1, 10), verified=True)  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            admin = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            admin.set_default_timeout(10_000)
            admin.goto(f"{base}/office/login")
            admin.fill("#username", "admin1")
            admin.fill("#password", "a long password 1")
            admin.click("button[type=submit]")
            admin.goto(f"{base}/office/rounds/zs-2026-p1")
            assert admin.locator("#round-status").inner_text() == "已截止"
            assert admin.locator("#publicity-hint").inner_text() == (
                "分配后可以开始公示。公示 7 天、异议期 2 天，都结束后才能完成本轮。"
            )
            assert (
                admin.locator("#unsettled").inner_text() == "全部申请已核定（已定分或不符合条件）。"
            )
            admin.screenshot(path=str(ARTIFACTS / "round-office.png"), full_page=True)
            admin.get_by_role("button", name="分配", exact=True).click()
            assert "/office/rounds/zs-2026-p1/jobs/" in admin.url
            assert admin.locator("#progress").inner_text() == (
                "已完成第 1 次分配：共 40 份申请，拟录取 30 人，未录取 0 人，不符合条件 10 人。"
            )
            admin.screenshot(path=str(ARTIFACTS / "round-job.png"), full_page=True)
            admin.get_by_role("link", name="返回本轮").click()
            assert admin.locator("#round-status").inner_text() == "已分配"
            admin.get_by_role("button", name="开始公示（7 天）").click()
            assert admin.locator("#round-status").inner_text() == "公示中"
            today = beijing_today()

            def zh(day):
                return f"{day.year} 年 {day.month} 月 {day.day} 日"

            closes = zh(today + dt.timedelta(days=9))
            assert admin.locator("#publicity-hint").inner_text() == (
                f"公示期 {zh(today)}至 {zh(today + dt.timedelta(days=7))}，异议期至 {closes}；"
                f"{closes}起可以完成本轮。"
            )
            admin.screenshot(path=str(ARTIFACTS / "round-published.png"), full_page=True)

            phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                     device_scale_factor=2)  # fmt: skip
            phone.set_default_timeout(10_000)
            phone.goto(f"{base}/publicity/zs-2026-p1")
            phone.click("#zones >> text=东区街道")
            assert phone.locator("h1").inner_text() == "东区街道 · 小学一年级"
            ranked = phone.locator("#ranked tbody tr")
            assert ranked.count() == 20
            # on a phone the school goes under the result, in the result's cell
            assert ranked.nth(0).inner_text().split("\t") == [
                "1", "ZS2026-P1-000040", "申***9", "90", "拟录取\n东区朗晴小学",
            ]  # fmt: skip
            assert ranked.nth(15).inner_text().split("\t") == [
                "—", "ZS2026-P1-000002", "申**1", "14", "不符合条件",
            ]  # fmt: skip
            # nothing wider than the phone: not the page, not the lists in their frames
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            for frame in phone.locator(".table-wrap").all():
                assert frame.evaluate("e => e.scrollWidth <= e.clientWidth")
            phone.screenshot(path=str(ARTIFACTS / "round-publicity-zone-phone.png"), full_page=True)

            # the ineligible applicant of 东区 looks it up on the phone and reads why
            phone.goto(f"{base}/status")
            phone.get_by_label("受理编号").fill("ZS2026-P1-000010")
            phone.get_by_label("身份证号").fill(rows[9][1])
            phone.get_by_label("姓名").fill(rows[9][0])
            phone.get_by_role("button", name="查询").click()
            assert phone.locator("#ineligible-reasons").inner_text() == (
                "基本条件：在中山参加社会保险：申请前一个月在本市参保为「否」，须为「是」。"
            )
            assert "公示结果：不符合条件" in phone.locator("#outcome").inner_text()
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            phone.screenshot(path=str(ARTIFACTS / "round-status-phone.png"), full_page=True)

            admin.get_by_role("button", name="完成本轮").click()
            assert "公示和异议期到" in admin.locator("#round-error").inner_text()
            with transaction(engine) as session:  # nine days on: 7 of 公示, 2 for objections
                round_ = session.get(Round, "zs-2026-p1")
                round_.published_on -= dt.timedelta(days=9)
                session.add(round_)
            admin.goto(f"{base}/office/rounds/zs-2026-p1")
            admin.get_by_role("button", name="完成本轮").click()
            assert admin.locator("#round-status").inner_text() == "已完成"
            admin.screenshot(path=str(ARTIFACTS / "round-finalized.png"), full_page=True)
            # the round's steps in the audit log, found by choosing the action in words
            admin.goto(f"{base}/office/audit")
            admin.select_option("select[name=action]", label="开始公示")
            admin.get_by_role("button", name="筛选").click()
            assert "action=round.publish" in admin.url
            rows = admin.locator("#audit tbody tr")
            assert rows.count() == 1
            assert rows.nth(0).locator("td").nth(5).inner_text() == "开始公示\nround.publish"
            admin.screenshot(path=str(ARTIFACTS / "office-audit.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
        thread.join(5)
        engine.dispose()
        made = app_db._ENGINES.pop(url, None)
        if made is not None:
            made.dispose()
