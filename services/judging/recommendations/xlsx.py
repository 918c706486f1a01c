"""The recommendation list as an XLSX organisers hand on: one A4 landscape sheet, Chinese
headers, a title and the event above the table, widths set for printing (CPU-bound: run it in
a thread)."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from services.judging.recommendations import schemas
from shared.models.registry.enums import SKILL_GRADE_NAMES, SkillGrade
from shared.tabular import csv_safe

PRIZES = {"first": "一等奖", "second": "二等奖", "third": "三等奖", "merit": "优秀奖"}
SEXES = {"male": "男", "female": "女"}
#: (header, width in characters): widths fit an A4 landscape page at 100 %.
COLUMNS = [
    ("序号", 6),
    ("名次", 6),
    ("姓名", 10),
    ("性别", 6),
    ("身份证号", 21),
    ("工作单位", 32),
    ("所在市", 10),
    ("职业（工种）", 14),
    ("技能等级", 16),
    ("总成绩", 9),
    ("奖项", 9),
    ("备注", 12),
]


def recommendations_xlsx(data: schemas.NationalRecommendations) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "推荐人选"
    last = get_column_letter(len(COLUMNS))
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"] = csv_safe(data.title)
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet.row_dimensions[1].height = 30
    sheet.merge_cells(f"A2:{last}2")
    sheet["A2"] = csv_safe(
        f"竞赛项目：{data.event_name}　职业（工种）：{data.occupation}　年度：{data.year}"
        f"　推荐名额：{data.top}" + ("　（末位并列，需确定人选）" if data.ties_at_boundary else "")
    )
    sheet["A2"].alignment = Alignment(horizontal="left", vertical="center")
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    sheet.append([header for header, _ in COLUMNS])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
    for number, item in enumerate(data.items, start=1):
        note = "末位并列" if item.tied_at_boundary else ("并列" if item.tied else "")
        sheet.append(
            [
                number,
                item.rank,
                csv_safe(item.name),
                SEXES.get(item.sex.value, item.sex.value),
                item.id_number,
                csv_safe(item.enterprise_name or ""),
                csv_safe(item.city_name or ""),
                csv_safe(data.occupation),
                SKILL_GRADE_NAMES[SkillGrade(item.grade)],
                item.score,
                PRIZES.get(item.prize or "", ""),
                note,
            ]
        )
        for cell in sheet[sheet.max_row]:
            cell.border = border
            cell.alignment = Alignment(vertical="center", wrap_text=True)
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A4"
    sheet.print_title_rows = "3:3"  # the header row on every printed page
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_options.horizontalCentered = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
