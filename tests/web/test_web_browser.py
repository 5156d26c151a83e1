"""The checker in Debian chromium at iPhone 13 size, in zh-CN: fill the form, submit, check the
total and every breakdown row against the engine, check nothing scrolls sideways, check the
Chinese is drawn with a real CJK font, and keep screenshots in test-artifacts/."""

from __future__ import annotations

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


def test_fill_the_form_on_a_phone_and_read_the_result(phone, live_url):
    page, base_url = phone, live_url
    page.goto(base_url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert no_horizontal_scroll(page), "home page scrolls sideways"
    page.screenshot(path=ARTIFACTS / "home.png", full_page=True, scale="css")

    page.locator(f"#table-{TABLE} a.button").click()
    page.wait_for_url(f"**/check/{TABLE}")
    assert no_horizontal_scroll(page), "form scrolls sideways"
    page.screenshot(path=ARTIFACTS / "form.png", full_page=True, scale="css")

    page.get_by_label("最高学历", exact=True).select_option("bachelor")
    page.get_by_label("本市社保缴费月数", exact=True).fill(FACTS["insured_months_city"])
    if TABLE == "zhongshan-2020-school":
        page.get_by_label("本市自有住房产权份额", exact=True).fill(FACTS["home_share"])
    page.get_by_role("button", name="计算积分").click()
    page.wait_for_selector("#total")

    facts = FACTS if TABLE == "zhongshan-2020-school" else {"education": "bachelor"}
    expected = score(load_tables()[TABLE], Facts.parse(facts))
    assert page.locator("#total").inner_text() == decimal_str(expected.total)
    rows = page.locator("#breakdown tbody tr")
    shown = {
        rows.nth(i).get_attribute("data-code"): rows.nth(i).locator("td.points").inner_text()
        for i in range(rows.count())
    }
    assert shown == {item.code: decimal_str(item.points) for item in expected.items}
    if TABLE == "zhongshan-2020-school":  # domain.md example D4
        assert page.locator("#total").inner_text() == "250"
        assert shown["education"] == "90"
        assert shown["insurance_city"] == "60"
        assert shown["own_home"] == "100"
    assert no_horizontal_scroll(page), "result page scrolls sideways"
    used = fonts_used(page, "#total-label")
    assert any("CJK" in name for name in used), used
    page.screenshot(path=ARTIFACTS / "result.png", full_page=True, scale="css")
    page.emulate_media(media="print")
    page.screenshot(path=ARTIFACTS / "result-print.png", full_page=True, scale="css")
    page.emulate_media(media="screen")


def test_bad_answers_show_chinese_messages_next_to_the_fields(phone, live_url):
    page, base_url = phone, live_url
    page.goto(f"{base_url}/check/{TABLE}")
    page.get_by_label("本市社保缴费月数", exact=True).fill("5000")
    page.get_by_role("button", name="计算积分").click()
    error = page.locator(".field.has-error .error")
    assert error.first.inner_text() == "应在 0 到 1200 之间（单位：个月）"
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
    page.get_by_label("最高学历", exact=True).select_option("bachelor")
    page.get_by_role("button", name="计算积分").click()
    page.wait_for_selector("#total")
    expected = score(load_tables()[TABLE], Facts.parse({"education": "bachelor"}))
    assert page.locator("#total").inner_text() == decimal_str(expected.total)
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
    page.get_by_role("button", name="计算积分").click()
    page.wait_for_selector("#compare")
    assert no_horizontal_scroll(page)
    assert page.locator("#compare tr.current").count() == 1
    page.screenshot(path=ARTIFACTS / "result-375.png", full_page=True, scale="css")
    context.close()
