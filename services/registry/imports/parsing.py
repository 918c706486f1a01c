"""Reading import files (through `shared.tabular`): CSV (UTF-8 or GB18030) and XLSX.

Headers may be English field names or the Chinese column titles organisers use. Files are read
in batches from a worker thread so a large upload never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from shared.models.registry import EnterpriseSize, ImportKind, Industry, SkillGrade
from shared.tabular import (
    TableLimits,
    TableProblem,
    UnreadableRow,
    cell_problem,
    cell_text,
    csv_line_count,
    decode_csv,
    is_xlsx,
    iter_csv,
    open_xlsx,
)

COLUMNS: dict[ImportKind, dict[str, tuple[str, ...]]] = {
    ImportKind.workers: {
        "name": ("name", "姓名"),
        "id_number": ("id_number", "身份证号", "身份证号码", "公民身份号码"),
        "phone": ("phone", "手机号", "手机号码", "联系电话"),
        "occupation": ("occupation", "职业", "工种", "职业（工种）", "职业(工种)"),
        "enterprise_credit_code": ("enterprise_credit_code", "统一社会信用代码", "单位信用代码"),
        "locality_code": ("locality_code", "行政区划代码", "地区代码"),
        "grade": ("grade", "技能等级", "等级"),
    },
    ImportKind.enterprises: {
        "credit_code": ("credit_code", "统一社会信用代码"),
        "name": ("name", "企业名称", "单位名称"),
        "locality_code": ("locality_code", "行政区划代码", "地区代码"),
        "industry": ("industry", "产业", "所属产业"),
        "size": ("size", "规模", "企业规模"),
    },
}
REQUIRED: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.workers: ("name", "id_number", "occupation", "grade"),
    ImportKind.enterprises: ("credit_code", "name", "locality_code", "industry", "size"),
}

GRADE_ALIASES: dict[str, SkillGrade] = {
    **{g.value: g for g in SkillGrade},
    "学徒": SkillGrade.apprentice,
    "初级工": SkillGrade.junior,
    "初级": SkillGrade.junior,
    "五级": SkillGrade.junior,
    "中级工": SkillGrade.intermediate,
    "中级": SkillGrade.intermediate,
    "四级": SkillGrade.intermediate,
    "高级工": SkillGrade.senior,
    "高级": SkillGrade.senior,
    "三级": SkillGrade.senior,
    "技师": SkillGrade.technician,
    "二级": SkillGrade.technician,
    "高级技师": SkillGrade.senior_technician,
    "一级": SkillGrade.senior_technician,
    "特级技师": SkillGrade.principal_technician,
    "首席技师": SkillGrade.chief_technician,
}
INDUSTRY_ALIASES: dict[str, Industry] = {
    **{i.value: i for i in Industry},
    "新一代信息技术": Industry.new_generation_it,
    "高端装备": Industry.high_end_equipment,
    "新能源新材料": Industry.new_energy_materials,
    "智慧海洋": Industry.smart_ocean,
    "医养健康": Industry.health_care,
    "高端化工": Industry.high_end_chemicals,
    "现代高效农业": Industry.modern_agriculture,
    "文化创意": Industry.cultural_creative,
    "精品旅游": Industry.premium_tourism,
    "现代金融": Industry.modern_finance,
    "其他": Industry.other,
}
SIZE_ALIASES: dict[str, EnterpriseSize] = {
    **{s.value: s for s in EnterpriseSize},
    "大型": EnterpriseSize.large,
    "中型": EnterpriseSize.medium,
    "小型": EnterpriseSize.small,
    "微型": EnterpriseSize.micro,
}


class FileProblem(ValueError):
    """The file as a whole cannot be imported (format, missing columns, limits)."""


#: Key prefix, in a row's field map, of a field's problem found while reading (a NUL, an
#: over-long cell), or with the bare prefix a row that could not be read at all: the
#: validators report these as row errors and go on with the next row.
PROBLEM = "!"

Row = tuple[int, dict[str, str]]


@dataclass
class RowSource:
    """A header-mapped row iterator over an upload, plus an estimate of its size."""

    rows: Iterator[Row]
    total: int | None

    def next_batch(self, size: int) -> list[Row]:
        try:
            return list(islice(self.rows, size))
        except TableProblem as exc:  # a file that cannot be read on: the job fails clearly
            raise FileProblem(str(exc)) from exc


def row_problems(row: dict[str, str]) -> list[tuple[str, str]]:
    """(field, reason) of each problem the reader found in a row ("row" for the whole row)."""
    return [(key[1:] or "row", reason) for key, reason in row.items() if key[:1] == PROBLEM]


def _mapping(kind: ImportKind, header: list[str]) -> dict[int, str]:
    aliases = {alias.lower(): field for field, names in COLUMNS[kind].items() for alias in names}
    mapping = {
        i: aliases[h.strip().lower()] for i, h in enumerate(header) if h.strip().lower() in aliases
    }
    missing = [f for f in REQUIRED[kind] if f not in mapping.values()]
    if missing:
        raise FileProblem(
            "Missing column(s): "
            + ", ".join(f"{f} ({'/'.join(COLUMNS[kind][f][1:2])})" for f in missing)
        )
    return mapping


def _rows(
    kind: ImportKind,
    raw: Iterator[Sequence[object] | UnreadableRow],
    first_row: int,
    limits: TableLimits,
) -> Iterator[Row]:
    try:
        first = next(raw)
    except StopIteration:
        raise FileProblem("The file is empty.") from None
    except TableProblem as exc:
        raise FileProblem(str(exc)) from exc
    if isinstance(first, UnreadableRow):
        raise FileProblem(f"The header row cannot be read: {first.reason}.")
    mapping = _mapping(kind, [cell_text(h) for h in first])
    for number, values in enumerate(raw, start=first_row + 1):
        if isinstance(values, UnreadableRow):
            yield number, {PROBLEM: values.reason}
            continue
        cells = [cell_text(v) for v in values]
        if not any(cells):
            continue
        row = {field: cells[i] if i < len(cells) else "" for i, field in mapping.items()}
        for field, value in list(row.items()):
            if (problem := cell_problem(value, limits)) is not None:
                row[field] = ""  # never validated, never stored
                row[PROBLEM + field] = problem
        yield number, row


def detect_format(filename: str, content: bytes) -> str:
    if is_xlsx(filename, content):
        return "xlsx"
    if filename.lower().endswith((".csv", ".txt")) or b"," in content[:4096]:
        return "csv"
    raise FileProblem("Upload a .csv or .xlsx file.")


def open_rows(
    kind: ImportKind, content: bytes, file_format: str, limits: TableLimits | None = None
) -> RowSource:
    """The rows of an upload, checked against `limits` before any is read (an XLSX is
    inspected whole; a CSV's lines are counted)."""
    limits = limits or TableLimits()
    try:
        if file_format == "xlsx":
            raw, counted = open_xlsx(content, limits)
            total = counted - 1 if counted else None
            return RowSource(_rows(kind, raw, 1, limits), total)
        text = decode_csv(content)
    except TableProblem as exc:
        raise FileProblem(str(exc)) from exc
    lines = csv_line_count(text)
    if lines > limits.max_rows:
        raise FileProblem(f"The file has more than {limits.max_rows} rows; split it.")
    return RowSource(_rows(kind, iter_csv(text), 1, limits), max(0, lines - 1))
