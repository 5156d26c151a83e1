"""The first sheet of an XLSX import file as text cells, read in a child process of its own.

python-calamine reads 100,000 rows in 2.9 s where openpyxl's read-only mode took 24.5 s
(docs/office.md), but it lays a sheet out in full from A1 to its farthest cell and ends the
process when that allocation fails: one cell at XFD1048576 asks for 512 GB. So the workbook is
first searched for what would make it read too far, for a friendly message; and the reading
itself runs in a spawned child limited in memory and CPU time, so that whatever a crafted file
still does ends that child, never the importing process (a web worker, for a small file).

Plain functions with no database and no Flask: the child imports this module alone.
"""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing
import posixpath
import re
import resource
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

# How far a sheet may reach, counted to its farthest cell: rows numbered below 300,000, columns
# up to CB (80). Three times the largest file a round takes, with every fact a column.
MAX_ROW = 299_999
MAX_COLUMN = "CB"
# What the reading child may use: address space and CPU seconds (a sheet at its full reach,
# 300,000 rows by 80 columns, needs about 1 GB).
MEMORY_LIMIT = 4 * 1024**3
CPU_LIMIT = 120
MAX_PART_BYTES = 512 * 1024**2  # any one part of the archive, uncompressed

_NAME = rb"(?:[\w.\-]+:)?"  # an element's optional namespace prefix (x:c, as the .NET SDK writes)
# A cell position past the reach, in any case or quotes. The pattern starts with its literal
# "r" (the word boundary checked behind it), which the search scans for fast: 0.6 s over the
# 79 MB sheet of 100,000 rows, where a leading \b took 1.7 s.
_FAR_CELL = re.compile(
    rb"r(?<![\w.:-]r)\s*=\s*[\"']\s*(?i:[a-z]{1,3}0*(?:[3-9][0-9]{5}|[1-9][0-9]{6,})"
    rb"|(?:[a-z]{3}|c[c-z]|[d-z][a-z])[0-9]+)\s*[\"']"
)
_PREFIXED_CELL = re.compile(rb"<[\w.\-]+:c[\s/>]")
_CELL_TAG = re.compile(rb"<" + _NAME + rb"c(?=[\s/>])")
_PLACED_CELL = re.compile(rb"<" + _NAME + rb"c\s[^<>]*?\br\s*=\s*[\"']")
_ERROR_CELL = re.compile(rb"<" + _NAME + rb"c\s[^<>]*?\bt\s*=\s*[\"']e[\"'][^<>]*>")
_POSITION = re.compile(rb"\br\s*=\s*[\"']([A-Za-z]{1,3})([0-9]+)[\"']")
# A cell's value after its start tag, past any formula: read from there, never searched for.
_VALUE = re.compile(
    rb"\s*(?:<" + _NAME + rb"f\b[^<>]*/>\s*|<" + _NAME + rb"f\b[^<>]*>[^<]*</" + _NAME + rb"f>\s*)?"
    rb"<" + _NAME + rb"v>([^<]*)<"
)


class SheetRefused(Exception):
    """A workbook that is not read, with the reason in Chinese and English."""

    def __init__(self, zh: str, en: str):
        super().__init__(zh, en)
        self.zh, self.en = zh, en


TOO_FAR = (
    f"表格使用的范围过大（行号须小于 {MAX_ROW + 1:,}，列不超过 {MAX_COLUMN} 列），"
    "请删除表格中多余的行和列后再导入",
    f"the sheet reaches too far (rows numbered below {MAX_ROW + 1:,}, columns up to {MAX_COLUMN})",
)
UNPLACED = (
    "此 XLSX 文件的单元格没有标明位置，请用 Excel 或 WPS 打开后另存，再导入",
    "the cells of this XLSX file do not say where they are: save it again from Excel or WPS",
)
NO_SHEET = ("不是有效的 XLSX 文件（缺少工作表）", "not a valid XLSX file (no sheet)")
TOO_BIG = (
    "无法读取此 XLSX 文件：读取时超出了内存或时间的限制（文件过大或已损坏），"
    "请删除多余的内容或另存为 CSV 后再导入",
    "the XLSX file could not be read within the memory and time allowed (too large or damaged)",
)


def read_xlsx(data: bytes) -> tuple[list[list[str]], list[tuple[int, int, str]]]:
    """The first sheet's rows as text cells (see `cell_text`), and its error cells as (row as
    the sheet numbers it, column from 0, the error value or ""), read in a spawned child.
    Raises SheetRefused, or what the reader raises for a file that is not XLSX."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding connections
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=_limit, initargs=(MEMORY_LIMIT, CPU_LIMIT)
    ) as pool:
        try:
            return pool.submit(read_here, data).result()
        except (BrokenProcessPool, MemoryError):  # the child ended, or ran out inside Python
            raise SheetRefused(*TOO_BIG) from None


def _limit(memory: int, cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def read_here(data: bytes) -> tuple[list[list[str]], list[tuple[int, int, str]]]:
    """`read_xlsx` in this process: only for the child (or a test)."""
    errors = _precheck(data)
    return [[cell_text(value) for value in row] for row in _calamine_rows(data)], errors


def _precheck(data: bytes) -> list[tuple[int, int, str]]:
    """Raise SheetRefused for a part of the archive that reaches too far or whose cells do not
    say where they are (any part, whatever its name: the reader finds sheets by their
    relationships); return the error cells of the first sheet."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        first = _first_sheet(archive)
        errors: list[tuple[int, int, str]] = []
        for info in archive.infolist():
            if info.file_size > MAX_PART_BYTES:
                raise SheetRefused(*TOO_BIG)
            xml = archive.read(info)
            if b"sheetData" not in xml:
                continue
            if _FAR_CELL.search(xml):
                raise SheetRefused(*TOO_FAR)
            if not _all_placed(xml):
                raise SheetRefused(*UNPLACED)
            if info is first:
                errors = _error_cells(xml)
    return errors


def _all_placed(xml: bytes) -> bool:
    """Whether every cell says where it is. Excel, WPS, LibreOffice and openpyxl write each
    cell as `<c r="A1"`: counted fast; anything else is counted tag by tag."""
    tidy = (
        _PREFIXED_CELL.search(xml) is None
        and not any(tag in xml for tag in (b"<c>", b"<c/>", b"<c\t", b"<c\n", b"<c\r"))
        and xml.count(b"<c ") == xml.count(b'<c r="')
    )
    if tidy:
        return True
    cells = sum(1 for _ in _CELL_TAG.finditer(xml))
    return cells == sum(1 for _ in _PLACED_CELL.finditer(xml))


def _first_sheet(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The archive's part of the workbook's first sheet, as its relationships name it (names
    compared as the reader compares them: case aside, either slash)."""
    from xml.etree import ElementTree

    parts = {info.filename.replace("\\", "/").lower(): info for info in archive.infolist()}
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    relations = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"

    def part(name: str) -> zipfile.ZipInfo:
        found = parts.get(name.lower())
        if found is None:
            raise SheetRefused(
                "不是有效的 XLSX 文件（缺少工作表）", "not a valid XLSX file (no sheet)"
            )
        return found

    book = ElementTree.fromstring(archive.read(part("xl/workbook.xml")))
    sheet = book.find(f"{main}sheets/{main}sheet")
    wanted = None if sheet is None else sheet.get(f"{relations}id")
    rels = ElementTree.fromstring(archive.read(part("xl/_rels/workbook.xml.rels")))
    for relation in rels:
        if wanted is not None and relation.get("Id") == wanted:
            target = relation.get("Target", "").replace("\\", "/")
            path = target[1:] if target.startswith("/") else posixpath.join("xl", target)
            return part(posixpath.normpath(path))
    raise SheetRefused(*NO_SHEET)


def _error_cells(xml: bytes) -> list[tuple[int, int, str]]:
    """The cells holding an error value (a formula that failed: #DIV/0!, #N/A …), which the
    reader gives as empty cells: an applicant's months would be read as none at all."""
    if b'"e"' not in xml and b"'e'" not in xml:  # a fast scan first: almost no sheet has one
        return []
    found = []
    for tag in _ERROR_CELL.finditer(xml):
        position = _POSITION.search(tag.group())
        if position is None:
            continue
        letters, row = position.groups()
        column = 0
        for letter in letters.upper().decode():
            column = column * 26 + ord(letter) - ord("A") + 1
        value = None if tag.group().endswith(b"/>") else _VALUE.match(xml, tag.end())
        error = value.group(1).decode("utf-8", "replace") if value else ""
        found.append((int(row), column - 1, error))
    return found


def _calamine_rows(data: bytes) -> list[list[Any]]:
    """The first sheet's values from A1 (a formula's as last calculated; dates as dates), with
    each merged range's top-left value in every cell it covers that holds nothing (a clerk who
    merges a zone down ten rows means it for all ten); a range past the sheet's last row or
    column covers nothing that was typed. Ranges covering more cells in all than the sheet has
    overlap, which Excel never writes: the rest of them are passed over."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        sheet = book.get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
        width = max(map(len, rows), default=0)
        cells_left = len(rows) * width  # ranges that do not overlap cover no more than that
        for (top, left), (bottom, right) in sheet.merged_cell_ranges or []:
            if top >= len(rows) or left >= width:
                continue
            bottom, right = min(bottom, len(rows) - 1), min(right, width - 1)
            cells_left -= (bottom - top + 1) * (right - left + 1)
            if cells_left < 0:
                break
            value = rows[top][left] if left < len(rows[top]) else ""
            for r in range(top, bottom + 1):
                cells = rows[r]
                cells.extend([""] * (right + 1 - len(cells)))
                for c in range(left, right + 1):
                    if cells[c] == "":
                        cells[c] = value
        return rows
    finally:
        book.close()


def cell_text(value: Any) -> str:
    """A spreadsheet value as the text a clerk typed: Excel dates as YYYY-MM-DD, whole numbers
    without '.0' (every digit, as far as a float holds them exactly)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value).strip()
