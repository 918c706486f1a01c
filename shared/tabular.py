"""Reading uploaded tables (CSV in UTF-8 or GB18030, or XLSX) into rows of strings, safely.

An upload is untrusted: an 810 KB XLSX can declare 20 million shared strings (2 GB of RAM in
openpyxl), a zip entry can inflate a thousandfold, a sheet can claim a million columns, and a
CSV cell can hold a NUL (which Postgres text refuses) or more than the csv module's field limit.
So:

- an XLSX is inspected before openpyxl sees it (`inspect_xlsx`): zip entries and their
  declared uncompressed sizes (zipfile never inflates an entry past its declared size), and
  then, streaming every XML part through expat (no DTD, no entity), the shared-string count,
  rows, cells per row, columns and cells, against `TableLimits` that no real register reaches
  (the row limit is Excel's own);
- a row that cannot be read, or a cell with a NUL or longer than Excel's cell limit, is a
  problem of that row only (`UnreadableRow`, `cell_problem`): the caller reports it and goes on;
- a file that cannot be read as a whole raises `TableProblem`, whose message names no cell
  content (it may end up in a job's failure text, and cells hold identity numbers).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from xml.parsers import expat

import openpyxl

SHEET_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#: XML parts other than worksheets and the shared-string table (styles, workbook, rels...):
#: a few hundred KB in a real file; openpyxl parses some of them whole, in memory.
MAX_OTHER_PART_BYTES = 32 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
#: Elements one cell may hold (c, v, f, is, t, r, rPr and its children): a row with more than
#: this many per column is not a table row.
ELEMENTS_PER_CELL = 16
CHUNK = 1024 * 1024

# The csv module refuses fields over 131,072 characters by raising in the middle of a file;
# our own per-cell limit (TableLimits.max_cell_chars) makes such a cell a row error instead.
# A field can never be longer than the upload, which is bounded.
csv.field_size_limit(2**31 - 1)


class TableProblem(ValueError):
    """The upload cannot be read as a table (the message names no cell content)."""


class _Settings(Protocol):
    table_max_rows: int
    table_max_cell_chars: int
    xlsx_max_columns: int
    xlsx_max_cells: int
    xlsx_max_uncompressed_bytes: int
    xlsx_max_shared_strings: int


@dataclass(frozen=True)
class TableLimits:
    """What no real register reaches. Rows: Excel's own sheet limit; cell characters: Excel's
    own cell limit; the rest bound memory and time (about 100 bytes of RAM per shared string
    in openpyxl, so the default allows about 400 MB)."""

    max_rows: int = 1_048_576
    max_cell_chars: int = 32_767
    max_columns: int = 1_000
    max_cells: int = 20_000_000
    max_uncompressed_bytes: int = 1024 * 1024 * 1024
    max_shared_strings: int = 4_000_000

    @classmethod
    def from_settings(cls, settings: _Settings) -> TableLimits:
        return cls(
            max_rows=settings.table_max_rows,
            max_cell_chars=settings.table_max_cell_chars,
            max_columns=settings.xlsx_max_columns,
            max_cells=settings.xlsx_max_cells,
            max_uncompressed_bytes=settings.xlsx_max_uncompressed_bytes,
            max_shared_strings=settings.xlsx_max_shared_strings,
        )


@dataclass(frozen=True)
class UnreadableRow:
    """A row the reader could not make sense of; the rows after it are still read."""

    reason: str


@dataclass
class XlsxFacts:
    """What the inspection found: per worksheet part, its rows and widest column."""

    rows: dict[str, int] = field(default_factory=dict)
    columns: dict[str, int] = field(default_factory=dict)
    shared_strings: int = 0

    @property
    def max_column(self) -> int:
        return max(self.columns.values(), default=0)


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # numbers typed into Excel cells come back as floats
    return str(value).strip()


def cell_problem(value: str, limits: TableLimits) -> str | None:
    """Why a cell cannot be taken (a row error), or None."""
    if "\x00" in value:
        return "contains a NUL character (U+0000), which no field may hold"
    if len(value) > limits.max_cell_chars:
        return f"longer than {limits.max_cell_chars} characters"
    return None


def is_xlsx(filename: str, content: bytes) -> bool:
    return content[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx")


def decode_csv(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableProblem("The CSV is neither UTF-8 nor GB18030.")


def csv_line_count(text: str) -> int:
    """Lines of a decoded CSV (an upper bound of its records)."""
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def iter_csv(text: str) -> Iterator[list[str] | UnreadableRow]:
    """Records of a decoded CSV. A record the csv module refuses (a stray carriage return in
    an unquoted field, say) becomes an `UnreadableRow`, and reading goes on with the next
    line: the reader starts afresh at each call."""
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield UnreadableRow(f"line {reader.line_num} is not valid CSV")


# --- XLSX inspection ------------------------------------------------------------------------


class _Stop(Exception):
    """Ends a scan early: the part has told us what we needed."""


_COLUMN = re.compile(r"([A-Za-z]{1,7})")


def _column_number(ref: str) -> int:
    match = _COLUMN.match(ref)
    if match is None:
        return 0
    number = 0
    for letter in match.group(1).upper():
        number = number * 26 + ord(letter) - 64
    return number


def _count(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


class _PartScan:
    """Expat handlers for one XML part: what it is (its root) and what it holds."""

    def __init__(self, limits: TableLimits, deep: bool) -> None:
        self.limits, self.deep = limits, deep
        self.root: str | None = None
        self.rows = 0
        self.in_row = False
        self.row_elements = 0
        self.cells = 0
        self.columns = 0
        self.column = 0
        self.strings = 0

    def too_big(self, what: str) -> TableProblem:
        return TableProblem(f"The XLSX file is too large to import: {what}.")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        ns, _, local = tag.rpartition(" ")
        limits = self.limits
        if self.root is None:
            self.root = local
            # Only distinct texts are held in memory (`count` is every use of one).
            if local == "sst" and _count(attrs.get("uniqueCount")) > limits.max_shared_strings:
                raise self.too_big(f"more than {limits.max_shared_strings} distinct texts")
            if not self.deep and local != "worksheet":
                raise _Stop  # a quick look reads a worksheet up to its dimension only
            return
        if self.root == "sst":
            if local == "si":
                self.strings += 1
                if self.strings > limits.max_shared_strings:
                    raise self.too_big(f"more than {limits.max_shared_strings} distinct texts")
            return
        if self.root != "worksheet":
            return
        if local == "dimension":
            self._dimension(attrs.get("ref", ""))
            if not self.deep:
                raise _Stop
        elif local == "sheetData" and not self.deep:
            raise _Stop
        if self.in_row:
            self.row_elements += 1
            if self.row_elements > limits.max_columns * ELEMENTS_PER_CELL:
                raise self.too_big(f"a row has more than {limits.max_columns} columns")
        if ns == SHEET_MAIN_NS and local == "row":
            self.rows += 1
            self.in_row, self.row_elements, self.column = True, 0, 0
            number = _count(attrs.get("r"))
            if self.rows > limits.max_rows or number > limits.max_rows:
                raise self.too_big(f"more than {limits.max_rows} rows")
        elif local == "c":
            self.cells += 1
            if self.cells > limits.max_cells:
                raise self.too_big(f"more than {limits.max_cells} cells")
            # A cell without a reference comes right after the one before it.
            self.column = _column_number(attrs.get("r", "")) or self.column + 1
            if self.column > limits.max_columns:
                raise self.too_big(f"more than {limits.max_columns} columns")
            self.columns = max(self.columns, self.column)

    def end(self, tag: str) -> None:
        ns, _, local = tag.rpartition(" ")
        if ns == SHEET_MAIN_NS and local == "row":
            self.in_row = False

    def _dimension(self, ref: str) -> None:
        last = ref.split(":")[-1]
        row = _count("".join(ch for ch in last if ch.isdigit()) or None)
        if _column_number(last) > self.limits.max_columns:
            raise self.too_big(f"the sheet declares more than {self.limits.max_columns} columns")
        if row > self.limits.max_rows:
            raise self.too_big(f"the sheet declares more than {self.limits.max_rows} rows")


def _refuse_dtd(*_: Any) -> None:
    raise TableProblem("The XLSX file holds a document type declaration; no real one does.")


def _scan(archive: zipfile.ZipFile, info: zipfile.ZipInfo, scan: _PartScan) -> None:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    read = 0
    try:
        with archive.open(info) as part:
            while chunk := part.read(CHUNK):
                read += len(chunk)
                if scan.root not in (None, "worksheet", "sst") and read > MAX_OTHER_PART_BYTES:
                    raise scan.too_big(f"part {info.filename} is larger than expected")
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Stop:
        return
    except expat.ExpatError as exc:
        raise TableProblem(
            f"Not a readable XLSX file: part {info.filename} is not well-formed XML "
            f"(line {exc.lineno})."
        ) from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise TableProblem(f"Not a readable XLSX file: part {info.filename} is damaged.") from exc


def inspect_xlsx(content: bytes, limits: TableLimits, *, deep: bool = True) -> XlsxFacts:
    """Check an XLSX against `limits` before parsing it; raise `TableProblem` if it is not
    one a register could be. Shallow (`deep=False`, at upload, milliseconds): the zip
    directory, declared sizes, the shared-string table's declared count and each sheet's
    declared dimension. Deep (before reading rows): every XML part streamed and counted."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise TableProblem("Not a readable XLSX file: it is not a zip archive.") from exc
    facts = XlsxFacts()
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise TableProblem(f"The XLSX file has more than {MAX_ZIP_ENTRIES} parts.")
        total = 0
        for info in entries:
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                # bzip2 and LZMA inflate a whole read at once; Excel never writes them.
                raise TableProblem(
                    f"Not a readable XLSX file: part {info.filename} is packed "
                    "with a compression Excel does not use."
                )
            total += info.file_size
            if info.file_size > limits.max_uncompressed_bytes or total > (
                limits.max_uncompressed_bytes
            ):
                raise TableProblem(
                    "The XLSX file is too large to import: it unpacks to more than "
                    f"{limits.max_uncompressed_bytes} bytes."
                )
        for info in entries:
            if not info.filename.endswith((".xml", ".rels")) or info.is_dir():
                continue
            scan = _PartScan(limits, deep)
            _scan(archive, info, scan)
            if scan.root == "worksheet":
                facts.rows[info.filename] = scan.rows
                facts.columns[info.filename] = scan.columns
            elif scan.root == "sst":
                facts.shared_strings += scan.strings
    return facts


def open_xlsx(
    content: bytes, limits: TableLimits
) -> tuple[Iterator[list[object] | UnreadableRow], int | None]:
    """The first sheet's rows (raw cell values) and its row count, after a deep inspection.
    The rows are bounded by what the inspection counted, whatever the sheet declares."""
    facts = inspect_xlsx(content, limits, deep=True)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise TableProblem(f"Not a readable XLSX file ({type(exc).__name__}).") from exc
    path = getattr(sheet, "_worksheet_path", None)
    total = facts.rows.get(path) if isinstance(path, str) else None
    # The declared dimension may lie (openpyxl pads every row to it): use what was counted.
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()
    width = facts.max_column or None
    return _xlsx_rows(sheet, width, limits.max_rows), total


def _xlsx_rows(
    sheet: Any, width: int | None, max_rows: int
) -> Iterator[list[object] | UnreadableRow]:
    rows = sheet.iter_rows(max_col=width, max_row=max_rows, values_only=True)
    number = 0
    while True:
        number += 1
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # a damaged part met half-way: the file cannot be read on
            raise TableProblem(
                f"The XLSX file cannot be read past row {number} ({type(exc).__name__})."
            ) from exc
        yield list(values)


def read_rows(
    filename: str, content: bytes, limits: TableLimits | None = None
) -> Iterator[list[str] | UnreadableRow]:
    """Every row of the first sheet (or the CSV), header included, as stripped strings; a
    row that cannot be read is an `UnreadableRow`. Raises `TableProblem` when the file as a
    whole cannot be read, or has more rows than `limits.max_rows`."""
    limits = limits or TableLimits()
    if is_xlsx(filename, content):
        rows, _ = open_xlsx(content, limits)
        for values in rows:
            yield values if isinstance(values, UnreadableRow) else [cell_text(v) for v in values]
        return
    text = decode_csv(content)
    if csv_line_count(text) > limits.max_rows:
        raise TableProblem(f"The file has more than {limits.max_rows} rows.")
    for texts in iter_csv(text):
        yield texts if isinstance(texts, UnreadableRow) else [v.strip() for v in texts]


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in exported cells (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
