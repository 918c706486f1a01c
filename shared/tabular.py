"""Reading uploaded tables (CSV in UTF-8 or GB18030, or XLSX) into rows of strings."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import openpyxl


class TableProblem(ValueError):
    """The upload cannot be read as a table."""


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # numbers typed into Excel cells come back as floats
    return str(value).strip()


def is_xlsx(filename: str, content: bytes) -> bool:
    return content[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx")


def decode_csv(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableProblem("The CSV is neither UTF-8 nor GB18030.")  # pragma: no cover


def read_rows(filename: str, content: bytes) -> Iterator[list[str]]:
    """Every row of the first sheet (or the CSV), header included, as stripped strings."""
    if is_xlsx(filename, content):
        try:
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise TableProblem(f"Not a readable XLSX file: {exc}") from exc
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            yield [cell_text(v) for v in values]
        return
    for texts in csv.reader(io.StringIO(decode_csv(content))):
        yield [v.strip() for v in texts]


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in exported cells (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
