"""Certificates as one PDF: WeasyPrint on our own template, checked for missing glyphs first.

A batch is one HTML document with a page per certificate. Large batches are split into
chunks rendered in helper processes (one render uses one core) and the chunks' PDFs joined
with pypdf, in order; the speed work of printing stays in this module. Fonts come from
fontconfig by family name (Noto Serif CJK SC for the text, Noto Sans CJK SC for titles) with
`lang="zh-CN"`, so mainland glyph forms are used and no fallback font is ever reached: a
character the font lacks (a rare 生僻字 of CJK Extension B and beyond) is refused before
rendering, by field, instead of printing as a box.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "certificate.html"
TEXT_FONT = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
TEXT_FAMILY = "Noto Serif CJK SC"  # the face of the collection every field prints in
PDF_VARIANT = "pdf/a-3u"
# Below this many pages one process renders: starting helpers costs about a second.
PARALLEL_FROM = 120
CHUNK = 150


@dataclass(frozen=True)
class Page:
    """Everything one certificate prints, as text (the template only lays it out)."""

    number: str
    title: str  # 积分入学录取通知书 / 积分入户核准通知书
    issuer: str
    round_name: str
    name: str  # in full: the certificate is the holder's
    masked_id: str
    zone: str
    category: str
    school: str  # "" for 入户
    points: str
    rank: str
    application_no: str
    issued: str  # 2026 年 7 月 1 日
    body: str  # the decision, in one paragraph
    next_steps: list[str]
    verify_url: str  # what the QR code holds


# Fields printed from people's and the office's data, which the font must cover.
CHECKED = {
    "name": "姓名",
    "issuer": "签发机关",
    "round_name": "轮次名称",
    "zone": "镇街",
    "category": "类别",
    "school": "学校",
}


@functools.cache
def covered() -> frozenset[int]:
    """The code points the text font has glyphs for."""
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(TEXT_FONT), lazy=True)
    for face in collection.fonts:
        if face["name"].getDebugName(1) == TEXT_FAMILY:
            return frozenset(face.getBestCmap())
    raise RuntimeError(f"{TEXT_FONT} holds no {TEXT_FAMILY} face")


def missing_glyphs(text: str) -> list[str]:
    """The characters of `text` the font cannot print (each once, in order)."""
    have = covered()
    missing: list[str] = []
    for char in text:
        if ord(char) not in have and char not in missing and not char.isspace():
            missing.append(char)
    return missing


def unprintable(fields: dict[str, str]) -> str:
    """Why a certificate with these fields cannot print ("" when it can): the field and each
    missing character with its code point."""
    for field, label in CHECKED.items():
        missing = missing_glyphs(fields.get(field, ""))
        if missing:
            # not the character itself: with the application number it would tell who it is,
            # and this reason is kept in the batch's record and shown on the job's page
            return f"{label}中有 {len(missing)} 个字字体中没有，不能打印，须人工填写"
    return ""


@functools.cache
def _template():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(ROOT / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return env.get_template(TEMPLATE)


@functools.cache
def _weasy():
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    fonts = FontConfiguration()
    css = CSS(string="html { image-rendering: crisp-edges; }", font_config=fonts)
    # our own template, its QR inline: nothing is fetched from disk or the network
    return fonts, css, URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)


def qr_data_uri(url: str) -> str:
    """The QR code (error correction Q, a 4-module quiet zone) as a PNG of one pixel a module,
    which the PDF scales without smoothing (an SVG QR cost 30 ms a page to draw). zxing-cpp
    writes it: its C++ encoder takes 2 ms of CPU a code where segno, pure Python, took 8 ms even
    with its mask fixed (docs/certificates.md, *Performance*)."""
    import zxingcpp
    from PIL import Image

    code = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
    image = Image.fromarray(_array(code.to_image(scale=1, add_quiet_zones=True))).convert("1")
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _array(image):
    import numpy

    return numpy.asarray(image)


def render_document(pages: list[Page], *, title: str, author: str, created: str) -> bytes:
    """One PDF (PDF/A-3u) of these pages, in one process."""
    from weasyprint import HTML

    if not TEXT_FONT.exists():
        raise RuntimeError(f"the certificate font {TEXT_FONT} is not installed (fonts-noto-cjk)")
    fonts, css, fetcher = _weasy()
    qr = [qr_data_uri(page.verify_url) for page in pages]
    html = _template().render(
        pages=zip(pages, qr, strict=True), title=title, author=author, created=created
    )
    document = HTML(string=html, url_fetcher=fetcher, encoding="utf-8")
    return document.write_pdf(
        stylesheets=[css], font_config=fonts, pdf_variant=PDF_VARIANT, uncompressed_pdf=False
    )


def render(
    pages: list[Page],
    *,
    title: str,
    author: str,
    created: str,
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """The PDF of every page, in order: in one process for a small batch, else in chunks over
    helper processes (spawned, not forked: the caller holds database connections)."""
    total = len(pages)
    cores = usable_cores()
    if total < PARALLEL_FROM or cores < 2:
        pdf = render_document(pages, title=title, author=author, created=created)
        if progress:
            progress(total, total)
        return pdf
    chunks = balanced(pages, cores)
    parts: list[bytes] = []
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("spawn")) as pool:
        meta = {"title": title, "author": author, "created": created}
        work = ([asdict(p) for p in chunk] for chunk in chunks)
        done = 0
        rendered = pool.map(_render_chunk, work, _repeat(meta, len(chunks)))
        for part, chunk in zip(rendered, chunks, strict=True):
            parts.append(part)
            done += len(chunk)
            if progress:
                progress(done, total)
    return join(parts)


def usable_cores() -> int:
    """The cores this process may run on (a container's share, not the host's), at most
    MAX_HELPERS: each helper holds a chunk's whole document in memory."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_HELPERS))


MAX_HELPERS = 4


def balanced(pages: list[Page], cores: int) -> list[list[Page]]:
    """Chunks of at most about CHUNK pages, as many as a multiple of the cores and of equal
    size, so that no helper is left with the last chunk alone while the others wait."""
    count = -(-len(pages) // CHUNK)
    count = -(-count // cores) * cores
    size = -(-len(pages) // count)
    return [pages[start : start + size] for start in range(0, len(pages), size)]


def _repeat(value, times: int) -> Iterable:
    return (value for _ in range(times))


def _render_chunk(pages: list[dict], meta: dict) -> bytes:
    return render_document([Page(**p) for p in pages], **meta)


def retag_fonts(reader, part: int) -> None:
    """Give the font subsets of the n-th part tags of their own. Each part subsets the same
    fonts for its own pages under the same tag (ABCDEF+Noto-…), and two different subsets in
    one file must not share a tag (ISO 32000-1, 9.6.4): a viewer that caches fonts by name
    would draw one part's names with another part's glyphs."""
    from pypdf.generic import NameObject

    renamed: dict[str, str] = {}

    def retag(name: str) -> str:
        tag, plus, rest = name.lstrip("/").partition("+")
        if not plus or len(tag) != 6 or tag in renamed.values():  # not a subset, or done
            return name
        if tag not in renamed:
            digest = hashlib.sha256(f"{part}:{tag}".encode()).digest()
            renamed[tag] = "".join(chr(65 + b % 26) for b in digest[:6])
        return f"/{renamed[tag]}+{rest}"

    for page in reader.pages:
        fonts = page.get("/Resources", {}).get_object().get("/Font", {})
        for ref in fonts.get_object().values():
            font = ref.get_object()
            for item in [font, *[d.get_object() for d in font.get("/DescendantFonts", [])]]:
                if "/BaseFont" in item:
                    item[NameObject("/BaseFont")] = NameObject(retag(item["/BaseFont"]))
                descriptor = item.get("/FontDescriptor")
                if descriptor is not None:
                    descriptor = descriptor.get_object()
                    if "/FontName" in descriptor:
                        descriptor[NameObject("/FontName")] = NameObject(
                            retag(descriptor["/FontName"])
                        )


def join(parts: list[bytes]) -> bytes:
    """The parts' pages in one PDF, keeping the first part's catalogue: its PDF/A metadata,
    output intent and document information."""
    from pypdf import PdfReader, PdfWriter

    if len(parts) == 1:
        return parts[0]
    # WeasyPrint's trailer counts fewer objects than its files hold; pypdf reads them right
    # and says so for every part ("Object count … exceeds defined trailer size …")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(parts[0])))
    for n, part in enumerate(parts[1:], start=1):
        reader = PdfReader(io.BytesIO(part))
        retag_fonts(reader, n)
        writer.append(reader)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
