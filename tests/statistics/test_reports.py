"""The quarterly programme report (JSON and XLSX with native charts) and the PNG/SVG charts."""

from __future__ import annotations

import io
import struct
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from shared.stats import periods as P
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.statistics.test_competition_statistics import competitions_flow, results_flow
from tests.statistics.test_registry_statistics import THRESHOLD, population, workers_at

Headers = dict[str, str]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def admin(services: Services) -> Headers:
    await create_account(services, "report.admin", "admin")
    return bearer(await get_token(services, "report.admin"))


def png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", body[16:24])
    return width, height


async def test_quarterly_report_json_and_workbook(services: Services) -> None:
    headers = await admin(services)
    await population(services, seed=21)
    await competitions_flow(services)
    await results_flow(services)
    quarter = P.current(P.Interval.quarter)
    response = await services.registry.get(
        "/v1/statistics/reports/quarterly", params={"quarter": quarter.key}, headers=headers
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["quarter"]["key"] == quarter.key
    summary = {line["measure"]: line for line in report["summary"]}
    end = P.month_start(quarter.last + 1) - timedelta(days=1)
    workers = sum((await workers_at(services, end, "1")).values())
    assert summary["workers"]["value"] == workers
    # The competitions and judging lines come from those services, with the same figures.
    held = (
        await services.competitions.get(
            "/v1/statistics/trends",
            headers=headers,
            params={
                "measure": "competitions_held",
                "interval": "quarter",
                "from": quarter.key,
                "to": quarter.key,
            },
        )
    ).json()
    assert summary["competitions_held"]["value"] == held["series"][0]["points"][0]["value"]
    assert set(summary) >= {"finalists", "winners", "training_hours", "honours_granted"}

    response = await services.registry.get(
        "/v1/statistics/reports/quarterly.xlsx",
        params={"quarter": quarter.key},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["概览", "职工分布", "等级变动", "趋势", "竞赛"]
    for sheet in book.worksheets:
        assert sheet["A2"].value.startswith("统计期间：")
        assert sheet["A3"].value == "统计范围：山东省"
        assert sheet["A4"].value.startswith("数据截至：")
        assert str(THRESHOLD) in sheet["A5"].value
        charts = sheet._charts  # type: ignore[attr-defined]  # not in openpyxl's stubs
        assert charts, f"sheet {sheet.title} has no chart"
    overview = book["概览"]
    rows = {overview.cell(r, 1).value: overview.cell(r, 3).value for r in range(8, 30)}
    assert rows["在档职工人数"] == workers


async def test_report_scope_and_refusals(services: Services) -> None:
    await population(services, seed=22)
    await create_account(services, "qd.report", "organiser", locality_code="370200")
    city = bearer(await get_token(services, "qd.report"))
    response = await services.registry.get("/v1/statistics/reports/quarterly", headers=city)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"]["label"] == "青岛市"
    assert body["workers_by_place_and_grade"]["by"] == ["county", "grade"]
    counties = {c["dims"]["county"] for c in body["workers_by_place_and_grade"]["cells"]}
    assert counties <= {None, "370200", "370202", "370211"}
    body = assert_problem(
        await services.registry.get(
            "/v1/statistics/reports/quarterly", params={"quarter": "2025-07"}, headers=city
        ),
        422,
    )
    assert body["errors"][0]["field"] == "quarter"


# A missing Chinese glyph is a warning from matplotlib: here it fails the test.
@pytest.mark.filterwarnings("error::UserWarning")
async def test_charts_png_and_svg(services: Services) -> None:
    headers = await admin(services)
    await population(services, seed=23)
    response = await services.registry.get(
        "/v1/statistics/charts/figure",
        params={"measure": "workers", "by": "city,grade"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    width, height = png_size(response.content)
    assert width > 600
    assert height > 300
    assert len(response.content) > 10_000
    response = await services.registry.get(
        "/v1/statistics/charts/trend",
        params={"measure": "workers", "interval": "quarter", "format": "svg"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in response.content[:2000]
    response = await services.registry.get(
        "/v1/statistics/charts/trend",
        params={"measure": "workers", "by": "city"},
        headers=headers,
    )
    assert response.headers["content-type"] == "image/png"
    assert png_size(response.content)[0] > 600
