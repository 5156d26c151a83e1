"""The checker in Debian chromium at iPhone 13 size, in zh-CN: a parent's walk through the
current Zhongshan policy (conditions first, Back and Forward, the shared link, the documents,
the print view), checked against the engine; nothing scrolls sideways, the Chinese is drawn with
a real CJK font, and screenshots are kept in test-artifacts/."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import make_app
from werkzeug.serving import make_server

from scoring.engine import score
from scoring.facts import Facts
from scoring.tables import decimal_str, load_tables

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
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TABLE = "zhongshan-2020-school" if "zhongshan-2020-school" in load_tables() else "guangdong-2010"
FACTS = {"education": "bachelor", "insured_months_city": "36", "home_share": "1"}


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def cjk_fonts() -> str:
    return subprocess.run(
        ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False
    ).stdout


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists() or "Noto Sans CJK" not in cjk_fonts():
        # `make test` has done this already; a bare `pytest` run does it here (apt, as root).
        subprocess.run(["make", "-C", str(ROOT), "system-packages"], check=False)
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make system-packages`")
    assert "Noto Sans CJK" in cjk_fonts(), "fonts-noto-cjk is missing: run `make system-packages`"
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield p, browser
        browser.close()


@pytest.fixture(scope="module")
def phone(chromium):
    """An iPhone 13 in zh-CN."""
    p, browser = chromium
    context = browser.new_context(**p.devices["iPhone 13"], locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth"
        " && document.body.scrollWidth <= window.innerWidth"
    )


def fonts_used(page, selector: str) -> set[str]:
    """The platform fonts chromium actually drew the element's text with (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return {f["familyName"] for f in fonts}


PARENT_TABLE = "zhongshan-2025-school"  # the current Zhongshan school policy


def answer(page, question: str, choice: str) -> None:
    """Tick one answer of a yes/no (or several-choice) question of the conditions."""
    page.locator("fieldset.radios", has_text=question).get_by_label(choice, exact=True).check()


def test_a_parent_in_zhongshan_walks_through_on_a_phone(chromium, phone, live_url):
    """A parent with junior-high education in Zhongshan, on an iPhone: the current policy from
    the home page, a failed basic condition, then a passing one, Back and Forward, the shared
    link in another browser, the documents to bring and the print view."""
    page, base_url = phone, live_url
    page.goto(base_url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert no_horizontal_scroll(page), "home page scrolls sideways"
    page.screenshot(path=ARTIFACTS / "walk-1-home.png", full_page=True, scale="css")
    zhongshan = page.locator("section.city", has_text="中山市")
    zhongshan.get_by_role("link", name="用现行政策测算").click()
    page.wait_for_url(f"**/check/{PARENT_TABLE}")
    assert "现行政策" in page.locator(".badges").first.inner_text()
    # the conditions come first
    legends = page.locator("fieldset.group > legend").all_inner_texts()
    assert legends[:2] == ["第一步：申请条件", "第二步：计分项目"]
    answer(page, "已是本市户籍", "否")
    answer(page, "持有本市居住证", "否")
    answer(page, "申请前一个月在本市参保", "是")
    page.get_by_label("孩子申请入读的年级").select_option("primary1")
    page.locator("#residence_permit_months__years").fill("3")
    page.locator("#insured_months_city__years").fill("3")
    page.locator("#medical_insured_months_city__months").fill("36")
    assert no_horizontal_scroll(page), "form scrolls sideways"
    page.screenshot(path=ARTIFACTS / "walk-2-form.png", full_page=True, scale="css")
    page.get_by_role("button", name="计算积分").click()
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "您可能不符合申请条件"
    assert page.locator("#total").count() == 0  # no points before the conditions
    assert "持有中山居住证：不符合" in page.locator("#condition-list").inner_text()
    failed_url = page.url
    page.screenshot(path=ARTIFACTS / "walk-3-condition-failed.png", full_page=True, scale="css")

    # the same answers, with the residence permit held
    page.locator("details.edit > summary").click()
    answer(page, "持有本市居住证", "是")
    page.get_by_role("button", name="重新计算").click()
    page.wait_for_selector("#total")
    facts = {
        "local_hukou": "n", "residence_permit_held": "y", "insured_last_month_city": "y",
        "child_grade": "primary1", "residence_permit_months": 36, "insured_months_city": 36,
        "medical_insured_months_city": 36,
    }  # fmt: skip
    expected = score(load_tables()[PARENT_TABLE], Facts.parse(facts))
    assert page.locator("#total").inner_text() == decimal_str(expected.total) == "108"
    verdict = page.locator("#verdict").inner_text()
    assert verdict == "已达到申请分数线（30 分），可以申请"
    assert "是否录取取决于所在镇街的排名和学校的录取分数" in page.locator("#meaning").inner_text()
    assert "社保缴费清单（社保部门打印或网上下载）" in page.locator("#documents").inner_text()
    assert no_horizontal_scroll(page), "result page scrolls sideways"
    used = fonts_used(page, "#verdict")
    assert any("CJK" in name for name in used), used
    passed_url = page.url
    page.screenshot(path=ARTIFACTS / "walk-4-result.png", full_page=True, scale="css")

    page.go_back()
    page.wait_for_selector("#verdict")
    assert page.url == failed_url
    assert page.locator("#verdict").inner_text() == "您可能不符合申请条件"
    page.go_forward()
    page.wait_for_selector("#total")
    assert page.url == passed_url and page.locator("#total").inner_text() == "108"
    page.reload()
    assert page.locator("#total").inner_text() == "108"

    # the link, sent to the other parent: a new browser, no cookies
    p, browser = chromium
    other = browser.new_context(**p.devices["iPhone 13"], locale="zh-CN")
    shared = other.new_page()
    shared.goto(passed_url)
    assert shared.locator("#total").inner_text() == "108"
    assert shared.locator("#verdict").inner_text() == verdict
    other.close()

    page.emulate_media(media="print")
    assert page.locator("#documents").is_visible()
    assert not page.locator(".compare").is_visible()
    assert not page.locator("details.edit").is_visible()
    page.screenshot(path=ARTIFACTS / "walk-5-print.png", full_page=True, scale="css")
    # what the browser's print gives: one A4 page (rasterised to PNG to look at)
    pdf = ARTIFACTS / "walk-6-print.pdf"
    page.pdf(path=pdf, format="A4", print_background=True)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M), info.stdout
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf), str(ARTIFACTS / "walk-6-print")],
        check=True,
    )
    page.emulate_media(media="screen")


def test_a_joint_home_asks_for_the_share_only_then(phone, live_url):
    page = phone
    page.goto(f"{live_url}/check/guangzhou-2023")
    share = page.locator(".field-home .share")
    assert not share.is_visible()
    answer(page, "在本市有自有住房吗", "有，与他人共有")
    assert share.is_visible()
    answer(page, "在本市有自有住房吗", "有，本人或配偶独有")
    assert not share.is_visible()


def test_bad_answers_show_chinese_messages_next_to_the_fields(phone, live_url):
    page, base_url = phone, live_url
    page.goto(f"{base_url}/check/{TABLE}")
    page.locator("#insured_months_city__months").fill("5000")
    page.get_by_role("button", name="计算积分").click()
    error = page.locator(".field.has-error .error")
    assert error.first.inner_text() == "月数应在 0 到 1200 之间"
    assert "需要修改" in page.locator(".alert").inner_text()
    assert no_horizontal_scroll(page)
    page.screenshot(path=ARTIFACTS / "form-errors.png", full_page=True, scale="css")


def test_pages_work_without_javascript(chromium, live_url):
    p, browser = chromium
    context = browser.new_context(
        **p.devices["iPhone 13"], locale="zh-CN", java_script_enabled=False
    )
    page = context.new_page()
    page.goto(f"{live_url}/check/{TABLE}")
    for question in ("持有本市居住证", "申请前一个月在本市参保"):
        answer(page, question, "是")
    answer(page, "已是本市户籍", "否")
    page.get_by_label("孩子申请入读的年级").select_option("junior1")
    page.get_by_label("最高学历", exact=True).select_option("bachelor")
    page.locator("#insured_months_city__years").fill("1")
    page.get_by_role("button", name="计算积分").click()
    page.wait_for_selector("#total")
    facts = {**FACTS, "home_share": "0", "insured_months_city": "12"}
    facts.update(residence_permit_held="y", insured_last_month_city="y", child_grade="junior1")
    expected = score(load_tables()[TABLE], Facts.parse(facts))
    assert page.locator("#total").inner_text() == decimal_str(expected.total) == "110"
    context.close()


def test_nothing_scrolls_sideways_at_375_px(chromium, live_url):
    _, browser = chromium
    context = browser.new_context(
        viewport={"width": 375, "height": 667},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    for table_id in sorted(load_tables()):
        page.goto(f"{live_url}/check/{table_id}")
        assert no_horizontal_scroll(page), table_id
    page.goto(f"{live_url}/")
    assert no_horizontal_scroll(page)
    page.goto(f"{live_url}/check/{TABLE}")
    page.get_by_label("最高学历", exact=True).select_option("bachelor")
    page.locator("#insured_months_city__years").fill("2")
    page.get_by_role("button", name="计算积分").click()
    page.wait_for_selector("#compare")
    assert page.locator("#verdict").inner_text() == "需补充信息：请先回答申请条件"
    assert no_horizontal_scroll(page)
    assert page.locator("#compare tr.current").count() == 1
    page.screenshot(path=ARTIFACTS / "result-375.png", full_page=True, scale="css")
    context.close()
