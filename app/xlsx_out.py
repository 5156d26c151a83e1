"""An XLSX workbook written to bytes without any temporary file. openpyxl writes each sheet to
a named temporary file and zips it from there: for a moment the rows of an import report (names,
ID numbers) would lie in clear in the system's temporary folder, and for good if the process were
killed then. Here each sheet is written into memory and put into the archive from there; a test
holds openpyxl to it (the override follows openpyxl's own `ExcelWriter.write_worksheet`, whose
version uv.lock pins)."""

from __future__ import annotations

import datetime as dt
import io
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.workbook import Workbook
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter


class _InMemory(ExcelWriter):
    def write_worksheet(self, ws) -> None:
        if self.workbook.write_only:  # a write-only sheet has written its own file already
            raise ValueError("workbook_bytes takes an ordinary workbook, not a write-only one")
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = WorksheetWriter(ws, out=io.BytesIO())
        writer.write()
        ws._rels = writer._rels
        self._archive.writestr(ws.path[1:], writer.read())
        self.manifest.append(ws)


def workbook_bytes(book: Workbook) -> bytes:
    """The workbook as an .xlsx file's bytes, as `Workbook.save` would write it."""
    book.properties.modified = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    buffer = io.BytesIO()
    with ZipFile(buffer, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        _InMemory(book, archive).write_data()
    return buffer.getvalue()
