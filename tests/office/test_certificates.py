"""Approval certificates on SQLite and PostgreSQL: printed as one PDF (PDF/A-3u, embedded CJK
fonts, one page an admitted applicant), a signed QR read back from the rasterised page and
verified, revocation, reprints, key rotation, and the names the font cannot print."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pytest
from office_helpers import KEYS_SECRET, good_rows, round_config, write_csv
from sqlmodel import select

from app import db as app_db
from app.accounts.actor import Actor
from app.applications.importer import import_applications
from app.cli import main
from app.db import transaction
from app.publicity.operations import finalize, publish
from app.rounds.allocation import allocate_round
from app.rounds.operations import create_round

CITY = Actor.command_line()
ROWS = good_rows(6)  # 000001, 3, 5 in shiqi; 000002, 4, 6 in dongqu
for _row in ROWS:  # above the programme's 30-point line: every one eligible, and admitted
    _row[9] = str(int(_row[9]) + 20)
SETTINGS = {"issuer": "中山市流动人员积分制服务管理办公室", "deadline": "2026-08-31",
            "notes": ["报到时请携带本通知书原件。"]}  # fmt: skip


def final_round(engine, keys, tmp_path, rows=ROWS) -> None:
    config = round_config()
    config.update(application_window=["2026-01-05", "2026-02-05"], publicity_days=0,
                  objection_days=0, certificate=SETTINGS)  # fmt: skip
    today = dt.date.today()
    with transaction(engine) as session:
        create_round(session, CITY, config, today=dt.date(2026, 1, 1))
    with transaction(engine) as session:
        import_applications(session, CITY, "zs-2026-p1", write_csv(tmp_path / "in.csv", rows),
                            keys, today=dt.date(2026, 1, 10), verified=True)  # fmt: skip
    with transaction(engine) as session:
        allocate_round(session, CITY, "zs-2026-p1", today=today)
    with transaction(engine) as session:
        publish(session, CITY, "zs-2026-p1", today=today)
    with transaction(engine) as session:
        finalize(session, CITY, "zs-2026-p1", today=today)


@pytest.fixture
def final(engine, keys, tmp_path, monkeypatch):
    final_round(engine, keys, tmp_path)
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("JIFEN_DATA_KEY", KEYS_SECRET)
    monkeypatch.setenv("JIFEN_SIGNING_KEY", str(tmp_path / "signing.pem"))
    monkeypatch.setenv("JIFEN_PUBLIC_URL", "https://jifen.zs.gov.cn")
    from app.certificates.signing import write_new_key

    write_new_key(tmp_path / "signing.pem")
    yield engine
    made = app_db._ENGINES.pop(url, None)
    if made is not None:
        made.dispose()


# ---- helpers ------------------------------------------------------------------------------------

ADMITTED = 6
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def numbers_in(path: Path) -> list[str]:
    return re.findall(r"通知书编号：(ZS2026-P1-C\d{6}-[0-9A-Z])", pdf_text(path))


def qr_on_page(path: Path, page: int, tmp_path: Path) -> str:
    """The text of the QR code read back from the rasterised page (as a phone would)."""
    import zxingcpp
    from PIL import Image

    stem = tmp_path / f"page{page}"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "100",
            "-f",
            str(page),
            "-l",
            str(page),
            "-png",
            "-singlefile",
            str(path),
            str(stem),
        ],
        check=True,
    )
    found = zxingcpp.read_barcodes(Image.open(f"{stem}.png"))
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def printed(tmp_path: Path, name: str = "c.pdf", *extra: str) -> Path:
    out = tmp_path / name
    assert main(["certificates", "print", "zs-2026-p1", "-o", str(out), *extra]) == 0
    return out


# ---- printing -----------------------------------------------------------------------------------


def test_a_final_round_prints_one_pdf_a_page_an_admitted_applicant(final, tmp_path, capsys):
    from app.audit.models import AuditEntry
    from app.certificates.models import CertificateCopy

    out = printed(tmp_path)
    assert capsys.readouterr().out.startswith("已打印 6 份通知书（新签发 6 份）")
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+6$", info, re.M)
    assert "595.276 x 841.89 pts (A4)" in info
    assert re.search(r"^Author:\s+中山市流动人员积分制服务管理办公室$", info, re.M)
    meta = subprocess.run(["pdfinfo", "-meta", str(out)], capture_output=True, text=True).stdout
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="U"' in meta
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert {r[0].split("+")[-1] for r in rows} == {
        "Noto-Serif-CJK-SC",
        "Noto-Sans-CJK-SC",
        "Noto-Sans-CJK-SC-Bold",
    }  # no DejaVu: nothing fell back to a font without Chinese
    assert all(r[-5:-2] == ["yes", "yes", "yes"] for r in rows)  # embedded, subset, unicode
    text = pdf_text(out)
    # ordered by zone (石岐 before 东区, as the round lists them), school, application number
    order = re.findall(r"受理编号\s+(ZS2026-P1-\d{6})", text)
    assert order == [
        "ZS2026-P1-000001",
        "ZS2026-P1-000003",
        "ZS2026-P1-000005",
        "ZS2026-P1-000002",
        "ZS2026-P1-000004",
        "ZS2026-P1-000006",
    ]
    numbers = numbers_in(out)
    assert numbers[0] == "ZS2026-P1-C000001-A"  # ISO 7064 MOD 37,36 of ZS2026P1C000001
    assert [n[11:17] for n in numbers] == [f"{k:06d}" for k in range(1, 7)]
    for k in range(6):
        assert f"申请人{k}（身份证号 " in text
    assert "2026 年 8 月 31 日前，由监护人持本通知书" in text
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            "-singlefile",
            str(out),
            str(ARTIFACTS / "certificate-school"),
        ],
        check=True,
    )

    first = numbers_in(out)
    again = printed(tmp_path, "again.pdf")  # the same batch: the same certificates
    assert numbers_in(again) == first
    engine = final
    with transaction(engine, write=False) as session:
        copies = session.exec(select(CertificateCopy)).all()
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("certificate.%"))
            .order_by(AuditEntry.seq)
        ).all()
    assert len(copies) == 12  # every copy printed stays listed
    assert actions == [
        "certificate.key",
        "certificate.issue",
        "certificate.print",
        "certificate.print",
    ]


# ---- verification -----------------------------------------------------------------------------


def _client(engine, keys, tmp_path):
    from office_helpers import office_app

    return office_app(engine, keys, tmp_path, RATELIMIT_ENABLED=False).test_client()


def _verdict(page: str) -> str:
    found = re.search(r'<p class="verdict-label">([^<]+)</p>', page)
    assert found, page
    return found.group(1)


def tampered(code: str) -> str:
    """The code with one byte of its payload changed."""
    from app.certificates.signing import b64, unb64

    raw = bytearray(unb64(code))
    raw[len(raw) // 2] ^= 0x01
    return b64(bytes(raw))


def test_the_qr_read_from_the_page_verifies_and_each_verdict_is_shown(
    final, keys, tmp_path, capsys
):
    from app.audit.models import AuditEntry

    engine = final
    out = printed(tmp_path)
    url = qr_on_page(out, 1, tmp_path)
    assert url.startswith("https://jifen.zs.gov.cn/verify/")
    code = url.rsplit("/", 1)[1]
    client = _client(engine, keys, tmp_path)

    response = client.get(f"/verify/{code}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert _verdict(page) == "有效"
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", page))
    assert facts == {
        "签发机关": "中山市流动人员积分制服务管理办公室",
        "通知书编号": "ZS2026-P1-C000001-A",
        "类型": "积分入学",
        "轮次": "中山市2026年积分入学（小学一年级）",
        "姓名": "申**0",
        "镇街": "石岐街道",
        "录取学校": "石岐中心小学",
        "核定积分": "32 分",
        "签发日期": dt.date.today().isoformat(),
    }
    assert "请与持证人身份证核对" in page
    assert "申请人0" not in page and ROWS[0][1] not in page and ROWS[0][1][-4:] not in page

    assert _verdict(client.get(f"/verify/{tampered(code)}").get_data(as_text=True)) == (
        "无效，可能伪造"
    )
    assert _verdict(client.get("/verify/not-a-code").get_data(as_text=True)) == "无效，可能伪造"

    assert (
        main(["certificates", "revoke", "ZS2026-P1-C000001-A", "--reason", "录取资格经复查不符"])
        == 0
    )
    assert _verdict(client.get(f"/verify/{code}").get_data(as_text=True)) == "已撤销"

    second = qr_on_page(out, 2, tmp_path).rsplit("/", 1)[1]  # 000003's certificate
    assert (
        main(
            [
                "certificates",
                "reprint",
                "ZS2026-P1-C000002-8",
                "--reason",
                "通知书遗失",
                "-o",
                str(tmp_path / "re.pdf"),
            ]
        )
        == 0
    )
    assert "已补发 ZS2026-P1-C000007-" in capsys.readouterr().out
    page = client.get(f"/verify/{second}").get_data(as_text=True)
    assert _verdict(page) == "已被新证书替代"
    new = numbers_in(tmp_path / "re.pdf")
    assert len(new) == 1 and new[0].startswith("ZS2026-P1-C000007-")
    assert f"已补发新通知书（编号 {new[0]}）" in page
    fresh = qr_on_page(tmp_path / "re.pdf", 1, tmp_path).rsplit("/", 1)[1]
    assert _verdict(client.get(f"/verify/{fresh}").get_data(as_text=True)) == "有效"

    with transaction(engine, write=False) as session:
        entries = session.exec(
            select(AuditEntry.actor, AuditEntry.object_id, AuditEntry.diff)
            .where(AuditEntry.action == "certificate.verify")
            .order_by(AuditEntry.seq)
        ).all()
    assert [(a, o, json.loads(d)["verdict"]) for a, o, d in entries] == [
        ("public", "ZS2026-P1-C000001-A", "valid"),
        ("public", "", "invalid"),
        ("public", "", "invalid"),
        ("public", "ZS2026-P1-C000001-A", "revoked"),
        ("public", "ZS2026-P1-C000002-8", "superseded"),
        ("public", new[0], "valid"),
    ]


def test_a_code_is_checked_offline_with_only_the_published_keys(
    final, keys, tmp_path, monkeypatch, capsys
):
    engine = final
    out = printed(tmp_path)
    url = qr_on_page(out, 1, tmp_path)
    document = _client(engine, keys, tmp_path).get("/verify/keys").get_json()
    [key] = document["keys"]
    assert document["format"] == "jifen.keys/1" and key["crv"] == "Ed25519"
    assert key["retired_at"] is None and len(key["kid"]) == 11
    (tmp_path / "keys.json").write_text(json.dumps(document))
    capsys.readouterr()
    # no database within reach: the signature is checked, the revocation state cannot be
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    assert main(["certificates", "verify", url, "--keys", str(tmp_path / "keys.json")]) == 0
    said = capsys.readouterr().out
    assert said.startswith("核验结果：有效 / verdict: valid\n  通知书编号：ZS2026-P1-C000001-A\n")
    assert "  学校：石岐中心小学\n" in said and "未能查询是否已撤销" in said
    code = url.rsplit("/", 1)[1]
    assert (
        main(["certificates", "verify", tampered(code), "--keys", str(tmp_path / "keys.json")]) == 1
    )
    assert capsys.readouterr().out == "核验结果：无效，可能伪造 / verdict: invalid\n"


def test_a_new_signing_key_signs_what_follows_and_the_old_ones_still_verify(
    final, keys, tmp_path, monkeypatch, capsys
):
    engine = final
    out = printed(tmp_path)
    old = qr_on_page(out, 1, tmp_path)
    assert main(["certificates", "new-key", str(tmp_path / "next.pem")]) == 0
    assert main(["certificates", "new-key", str(tmp_path / "next.pem")]) == 2  # never overwritten
    monkeypatch.setenv("JIFEN_SIGNING_KEY", str(tmp_path / "next.pem"))
    assert (
        main(
            [
                "certificates",
                "reprint",
                "ZS2026-P1-C000003-6",
                "--reason",
                "通知书污损",
                "-o",
                str(tmp_path / "re.pdf"),
            ]
        )
        == 0
    )
    document = _client(engine, keys, tmp_path).get("/verify/keys").get_json()
    first, second = document["keys"]
    assert first["retired_at"] is not None and second["retired_at"] is None
    from app.certificates.signing import verify as check

    assert check(old.rsplit("/", 1)[1], __keys(document)).kid == first["kid"]
    fresh = qr_on_page(tmp_path / "re.pdf", 1, tmp_path).rsplit("/", 1)[1]
    assert check(fresh, __keys(document)).kid == second["kid"]
    capsys.readouterr()
    assert main(["certificates", "verify", old]) == 0  # the old key's certificate, still valid
    assert "核验结果：有效" in capsys.readouterr().out


def __keys(document):
    from app.certificates.signing import keys_from_document

    return keys_from_document(document)
