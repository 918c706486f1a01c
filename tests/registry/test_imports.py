"""Bulk import through HTTP: broken rows reported, good rows land, nothing twice, formats."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from datetime import date
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text

from services.registry.imports import engine
from shared.config import Settings
from shared.models.registry import Sex
from tests.conftest import (
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
    owner_sessionmaker,
)
from tests.factories import credit_code, identity_number

#: The worker import template's header row.
HEADER = [
    "姓名",
    "身份证号",
    "手机号",
    "职业（工种）",
    "统一社会信用代码",
    "行政区划代码",
    "技能等级",
]


async def wait_done(services: Services, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    for _ in range(200):
        job: dict[str, Any] = (
            await services.registry.get(f"/v1/imports/{job_id}", headers=headers)
        ).json()
        if job["status"] in ("completed", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


async def upload(
    services: Services,
    headers: dict[str, str],
    content: bytes,
    filename: str = "workers.csv",
    kind: str = "workers",
) -> dict[str, Any]:
    response = await services.registry.post(
        f"/v1/imports/{kind}", files={"file": (filename, content)}, headers=headers
    )
    assert response.status_code == 202, response.text
    return await wait_done(services, headers, response.json()["id"])


async def test_broken_rows_reported_good_rows_land_nothing_twice(
    services: Services, admin_headers: dict[str, str]
) -> None:
    company = credit_code()
    enterprise = await services.registry.post(
        "/v1/enterprises",
        headers=admin_headers,
        json={
            "credit_code": company,
            "name": "潍柴动力股份有限公司",
            "locality_code": "370700",
            "industry": "high_end_equipment",
            "size": "large",
        },
    )
    assert enterprise.status_code == 201
    registered = identity_number(date(1980, 1, 2), Sex.male)
    before = await services.registry.post(
        "/v1/workers",
        headers=admin_headers,
        json={
            "name": "已登记",
            "id_number": registered,
            "occupation": "钳工",
            "grade": "senior",
            "locality_code": "370100",
        },
    )
    assert before.status_code == 201
    good = [identity_number() for _ in range(4)]
    bad_check = good[0][:-1] + ("0" if good[0][-1] != "0" else "1")
    rows = [
        HEADER,
        ["张伟", good[0], "13805310001", "数控车工", company, "", "高级工"],  # row 2 ok
        ["李娜", good[1], "", "焊工", "", "370200", "technician"],  # row 3 ok
        ["王芳", bad_check, "", "焊工", "", "370200", "中级工"],  # row 4 check digit
        ["", good[2], "", "焊工", "", "370200", "中级工"],  # row 5 no name
        ["刘洋", good[3], "", "电工", "", "370200", "大师"],  # row 6 bad grade
        ["陈静", identity_number(), "", "电工", credit_code(), "", "初级工"],  # row 7 unknown ent.
        ["张伟", good[0], "", "数控车工", company, "", "高级工"],  # row 8 dup row 2
        ["老王", registered, "", "钳工", "", "370100", "高级工"],  # row 9 registered
        ["赵强", identity_number(), "12345", "电工", "", "370100", "初级工"],  # row 10 bad phone
    ]
    content = csv_bytes(rows)
    job = await upload(services, admin_headers, content)
    assert job["status"] == "completed", job
    assert job["total_rows"] == 9
    assert job["processed_rows"] == 9
    assert (job["inserted_rows"], job["duplicate_rows"], job["error_rows"]) == (2, 2, 5)
    errors = (
        await services.registry.get(
            f"/v1/imports/{job['id']}/errors", params={"limit": 200}, headers=admin_headers
        )
    ).json()
    by_row = {(e["row_number"], e["field"]): e["reason"] for e in errors["items"]}
    assert "check digit" in by_row[(4, "id_number")]
    assert (5, "name") in by_row
    assert (6, "grade") in by_row
    assert "no enterprise" in by_row[(7, "enterprise_credit_code")]
    assert "row 2" in by_row[(8, "id_number")]
    assert before.json()["id"] in by_row[(9, "id_number")]
    assert (10, "phone") in by_row
    report = await services.registry.get(
        f"/v1/imports/{job['id']}/errors.csv", headers=admin_headers
    )
    assert report.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(report.text.lstrip("\ufeff"))))
    assert lines[0] == ["row_number", "field", "reason"]
    assert len(lines) == 1 + len(errors["items"])

    zhang = (
        await services.registry.get("/v1/workers", params={"q": "张伟"}, headers=admin_headers)
    ).json()["items"]
    assert len(zhang) == 1
    assert zhang[0]["enterprise_id"] == enterprise.json()["id"]
    assert zhang[0]["locality_code"] == "370700"
    assert zhang[0]["grade"] == "senior"
    timeline = (
        await services.registry.get(f"/v1/workers/{zhang[0]['id']}/timeline", headers=admin_headers)
    ).json()["items"]
    assert [e["kind"] for e in timeline] == ["registered"]

    again = await upload(services, admin_headers, content)
    assert (again["inserted_rows"], again["duplicate_rows"]) == (0, 4)
    everyone = (
        await services.registry.get("/v1/workers", params={"limit": 200}, headers=admin_headers)
    ).json()["items"]
    assert len(everyone) == 3


async def test_imported_records_get_time_ordered_ids(
    services: Services, admin_headers: dict[str, str], database_url: str
) -> None:
    """Bulk-written keys are UUID version 7 (migration 0060): their first 48 bits are the
    creation time in milliseconds, so a batch's keys are neighbours in every index that leads
    with them (and a later import's keys sort after an earlier one's)."""
    ids: list[list[uuid.UUID]] = []
    for name in ("早", "晚"):
        started = time.time()
        rows = [
            [f"{name}{i}", identity_number(), "", "焊工", "", "370200", "中级工"] for i in range(3)
        ]
        job = await upload(services, admin_headers, csv_bytes([HEADER, *rows]))
        assert job["inserted_rows"] == 3, job
        found = (
            await services.registry.get("/v1/workers", params={"q": name}, headers=admin_headers)
        ).json()["items"]
        batch = [uuid.UUID(w["id"]) for w in found]
        assert len(batch) == 3
        for key in batch:
            assert key.version == 7, key
            millis = key.int >> 80
            assert started - 5 <= millis / 1000 <= time.time() + 5, (key, started)
        ids.append(batch)
        await asyncio.sleep(0.01)
    assert max(ids[0]) < min(ids[1])
    # The talent file's first grade change and the outbox event are keyed by time too.
    async with owner_sessionmaker(database_url) as make, make() as session:
        versions = (
            (
                await session.execute(
                    text(
                        "SELECT DISTINCT get_byte(uuid_send(g.id), 6) >> 4 FROM grade_changes g "
                        "WHERE g.worker_id = ANY(:ids) UNION "
                        "SELECT DISTINCT get_byte(uuid_send(o.id), 6) >> 4 FROM outbox_events o "
                        "WHERE o.subject = ANY(:subjects)"
                    ),
                    {
                        "ids": [*ids[0], *ids[1]],
                        "subjects": [f"worker:{k}" for k in (*ids[0], *ids[1])],
                    },
                )
            )
            .scalars()
            .all()
        )
    assert set(versions) == {7}


async def test_xlsx_with_numeric_cells_and_gb18030_csv(
    services: Services, admin_headers: dict[str, str]
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    numbers = [identity_number(region="370211") for _ in range(2)]
    sheet.append(["name", "id_number", "phone", "occupation", "locality_code", "grade"])
    sheet.append(["孙丽", numbers[0], 13905320002, "装配钳工", 370200, "技师"])
    sheet.append(["周杰", numbers[1], None, "电工", "370200", "初级"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = await upload(services, admin_headers, buffer.getvalue(), "名册.xlsx")
    assert (job["status"], job["inserted_rows"], job["error_rows"]) == ("completed", 2, 0), job
    assert job["file_format"] == "xlsx"

    gbk = csv_bytes(
        [
            ["姓名", "身份证号", "职业", "地区代码", "等级"],
            ["吴敏", identity_number(), "车工", "370300", "中级工"],
        ],
        "gb18030",
    )
    job = await upload(services, admin_headers, gbk)
    assert job["inserted_rows"] == 1, job
    names = {
        w["name"]
        for w in (
            await services.registry.get("/v1/workers", params={"limit": 50}, headers=admin_headers)
        ).json()["items"]
    }
    assert names == {"孙丽", "周杰", "吴敏"}


async def test_missing_columns_fail_the_job_clearly(
    services: Services, admin_headers: dict[str, str]
) -> None:
    job = await upload(services, admin_headers, csv_bytes([["姓名", "手机号"], ["张三", "138"]]))
    assert job["status"] == "failed"
    assert "id_number" in job["failure"]
    assert "grade" in job["failure"]
    response = await services.registry.post(
        "/v1/imports/workers", files={"file": ("x.csv", b"")}, headers=admin_headers
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "file"


async def test_organiser_rows_outside_scope_are_refused(services: Services) -> None:
    await create_account(services, "jn.org", "organiser", locality_code="370100")
    headers = bearer(await get_token(services, "jn.org"))
    content = csv_bytes(
        [
            ["name", "id_number", "occupation", "locality_code", "grade"],
            ["甲", identity_number(), "车工", "370100", "junior"],
            ["乙", identity_number(), "车工", "370200", "junior"],
        ]
    )
    job = await upload(services, headers, content)
    assert (job["inserted_rows"], job["error_rows"]) == (1, 1)
    errors = (
        await services.registry.get(f"/v1/imports/{job['id']}/errors", headers=headers)
    ).json()
    assert errors["items"][0]["row_number"] == 3
    assert "scope" in errors["items"][0]["reason"]
    await create_account(services, "qd.org", "organiser", locality_code="370200")
    other = bearer(await get_token(services, "qd.org"))
    assert_problem(await services.registry.get(f"/v1/imports/{job['id']}", headers=other), 403)
    await create_account(services, "worker.x", "worker")
    assert_problem(
        await services.registry.post(
            "/v1/imports/workers",
            files={"file": ("x.csv", content)},
            headers=bearer(await get_token(services, "worker.x")),
        ),
        403,
    )


async def test_enterprise_import_and_template(
    services: Services, admin_headers: dict[str, str]
) -> None:
    template = await services.registry.get(
        "/v1/imports/templates/enterprises.csv", headers=admin_headers
    )
    header = next(csv.reader(io.StringIO(template.text.lstrip("\ufeff"))))
    code = credit_code()
    content = csv_bytes(
        [
            header,
            [code, "浪潮集团有限公司", "370100", "新一代信息技术", "大型"],
            [code, "重复的公司", "370100", "其他", "小型"],
            [credit_code(), "某公司", "370100", "航天", "大型"],
        ]
    )
    job = await upload(services, admin_headers, content, kind="enterprises")
    assert (job["inserted_rows"], job["duplicate_rows"], job["error_rows"]) == (1, 1, 1), job
    found = (
        await services.registry.get("/v1/enterprises", params={"q": "浪潮"}, headers=admin_headers)
    ).json()["items"]
    assert found[0]["industry"] == "new_generation_it"


class TestUploadLimit:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"import_max_bytes": 2048})

    async def test_too_large_is_413(
        self, services: Services, admin_headers: dict[str, str]
    ) -> None:
        response = await services.registry.post(
            "/v1/imports/workers",
            files={"file": ("big.csv", b"a,b\n" * 1000)},
            headers=admin_headers,
        )
        assert "2048" in str(assert_problem(response, 413)["detail"])
        jobs = (await services.registry.get("/v1/imports", headers=admin_headers)).json()
        assert jobs["items"] == []


async def test_failed_batch_rolls_back_and_the_job_resumes_after_the_last_commit(
    services: Services,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    """Batches are written two at a time but committed in file order: when one fails, the one
    after it (already inserted on the other connection) rolls back too, `processed_rows` counts
    the committed prefix, and the job taken over after its lease resumes right after it."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    app = services.apps["registry"]
    # A database failure on one row of the second batch: a trigger, so the real insert fails.
    # DDL needs the schema owner: the services' login may not create triggers.
    async with owner_sessionmaker(database_url) as owner, owner() as session, session.begin():
        await session.execute(
            text(
                """
                CREATE FUNCTION refuse_import() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.name = '故障' THEN RAISE EXCEPTION 'simulated failure'; END IF;
                    RETURN NEW;
                END $$
                """
            )
        )
        await session.execute(
            text(
                "CREATE TRIGGER refuse_import BEFORE INSERT ON workers "
                "FOR EACH ROW EXECUTE FUNCTION refuse_import()"
            )
        )
    numbers = [identity_number() for _ in range(7)]
    names = ["赵一", "钱二", "孙三", "故障", "周五", "吴六", "郑七"]
    rows = [["name", "id_number", "occupation", "locality_code", "grade"]]
    rows += [
        [name, number, "焊工", "370200", "中级工"]
        for name, number in zip(names, numbers, strict=True)
    ]
    rows.append(["钱二", numbers[1], "焊工", "370200", "中级工"])  # a duplicate of row 3
    response = await services.registry.post(
        "/v1/imports/workers", files={"file": ("w.csv", csv_bytes(rows))}, headers=admin_headers
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    for _ in range(200):  # the runner fails on batch 2 and leaves the job to its lease
        job = (await services.registry.get(f"/v1/imports/{job_id}", headers=admin_headers)).json()
        if job["processed_rows"] == 2 and job["status"] == "running":
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # batch 3 was inserted beside batch 2: it must not commit
    job = (await services.registry.get(f"/v1/imports/{job_id}", headers=admin_headers)).json()
    assert (job["status"], job["processed_rows"], job["inserted_rows"]) == ("running", 2, 2), job
    listed = (
        await services.registry.get("/v1/workers", params={"limit": 50}, headers=admin_headers)
    ).json()["items"]
    assert sorted(w["name"] for w in listed) == sorted(names[:2])
    assert (
        await services.registry.get(f"/v1/imports/{job_id}/errors", headers=admin_headers)
    ).json()["items"] == []

    async with owner_sessionmaker(database_url) as owner, owner() as session, session.begin():
        await session.execute(text("DROP TRIGGER refuse_import ON workers"))
        await session.execute(
            text("UPDATE import_jobs SET lease_until = now() - interval '1 second' WHERE id = :id"),
            {"id": job_id},
        )
    app.state.import_wakeup.set()
    job = await wait_done(services, admin_headers, job_id)
    assert job["status"] == "completed", job
    assert (job["processed_rows"], job["inserted_rows"], job["duplicate_rows"]) == (8, 7, 1), job
    errors = (
        await services.registry.get(f"/v1/imports/{job_id}/errors", headers=admin_headers)
    ).json()["items"]
    assert [(e["row_number"], e["field"]) for e in errors] == [(9, "id_number")]
    # Row 3 was committed before the failure, so the resumed run finds it in the database.
    qian = next(w for w in listed if w["name"] == "钱二")
    assert errors[0]["reason"] == f"already registered as worker {qian['id']}"
    listed = (
        await services.registry.get("/v1/workers", params={"limit": 50}, headers=admin_headers)
    ).json()["items"]
    assert sorted(w["name"] for w in listed) == sorted(names)
    for worker in listed:
        timeline = (
            await services.registry.get(
                f"/v1/workers/{worker['id']}/timeline", headers=admin_headers
            )
        ).json()["items"]
        assert [e["kind"] for e in timeline] == ["registered"]
