"""Hostile uploads never hang a job, exhaust memory or give a 500 (issue 13, section 3).

Every upload endpoint (`POST /v1/imports/workers|enterprises` at the registry,
`POST /v1/events/{id}/entries:import` at competitions) gets each hostile file, built here:
a NUL in a cell, a cell over the csv module's field limit, a broken CSV line, an XLSX whose
shared-string table, zip entries, dimension or rows are beyond the limits (declared or real),
a DTD, and a job that fails its runner every time. A bad row is an error of that row and the
job goes on; a file that cannot be read fails its job (or the request) with a clear reason;
nothing is retried for ever. The XLSX limits are settings: the real defaults are tested with
files that only declare huge sizes (cheap), the counting with lowered limits.
"""

from __future__ import annotations

import asyncio
import io
import struct
import uuid
import zipfile
from datetime import timedelta
from typing import Any
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import text

from services.registry.imports import engine
from shared.config import Settings
from tests.competitions.test_entries import open_event, worker
from tests.conftest import Services, assert_problem, owner_sessionmaker
from tests.factories import identity_number
from tests.registry.test_imports import csv_bytes, upload

HEADER = ["name", "id_number", "phone", "occupation", "locality_code", "grade"]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def good_row(name: str = "王建国") -> list[str]:
    return [name, identity_number(), "", "焊工", "370100", "senior"]


def column_letter(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def xlsx(
    rows: list[list[str]],
    *,
    sst_attributes: str = "",
    extra_strings: int = 0,
    dimension: str | None = None,
    sheet_xml: bytes | None = None,
    doctype: bytes = b"",
) -> bytes:
    """A minimal XLSX as Excel writes it: texts in the shared-string table, cells with refs."""
    strings: list[str] = []
    cells = []
    for r, row in enumerate(rows, start=1):
        refs = []
        for c, value in enumerate(row, start=1):
            strings.append(value)
            refs.append(f'<c r="{column_letter(c)}{r}" t="s"><v>{len(strings) - 1}</v></c>')
        cells.append(f'<row r="{r}">{"".join(refs)}</row>')
    dim = dimension or f"A1:{column_letter(max(len(r) for r in rows))}{len(rows)}"
    sheet = (
        sheet_xml
        or (
            f'<worksheet xmlns="{MAIN}"><dimension ref="{dim}"/><sheetData>{"".join(cells)}'
            "</sheetData></worksheet>"
        ).encode()
    )
    sst = (
        doctype
        + f'<sst xmlns="{MAIN}" {sst_attributes}>'.encode()
        + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings).encode()
        + b"<si><t>x</t></si>" * extra_strings
        + b"</sst>"
    )
    parts = {
        "[Content_Types].xml": (
            b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            b'<Default Extension="rels" '
            b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            b'<Default Extension="xml" ContentType="application/xml"/>'
            b'<Override PartName="/xl/workbook.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            b"</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            '<sheet name="名册" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PKG_REL}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ).encode(),
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": sst,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def declare_size(content: bytes, part: str, size: int) -> bytes:
    """The same zip, its central directory declaring `size` uncompressed bytes for `part` (as
    a zip bomb does; zipfile trusts the central directory)."""
    data = bytearray(content)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length].decode() == part:
            struct.pack_into("<I", data, at + 24, size)
            return bytes(data)
        at = data.find(b"PK\x01\x02", at + 46)
    raise AssertionError(f"no part {part}")


async def row_errors(
    services: Services, headers: dict[str, str], job_id: str
) -> dict[tuple[int, str], str]:
    body = (
        await services.registry.get(
            f"/v1/imports/{job_id}/errors", params={"limit": 200}, headers=headers
        )
    ).json()
    return {(e["row_number"], e["field"]): e["reason"] for e in body["items"]}


async def worker_count(services: Services) -> int:
    async with services.apps["registry"].state.sessionmaker() as session:
        count: int = await session.scalar(text("SELECT count(*) FROM workers"))
    return count


async def job_row(services: Services, job_id: str) -> dict[str, Any]:
    async with services.apps["registry"].state.sessionmaker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT status, attempts, content_enc IS NULL AS deleted, failure "
                    "FROM import_jobs WHERE id = :id"
                ),
                {"id": job_id},
            )
        ).one()
    return dict(row._mapping)


# --- bad rows: the row is refused, the job goes on ------------------------------------------


async def test_nul_and_oversized_cells_are_row_errors_and_every_other_row_lands(
    services: Services, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the insert failed on the NUL, the job stayed `running` and was retried for
    ever with the batches before it committed; a cell over 131,072 characters stopped the
    csv reader the same way. Small batches put the bad rows in the middle of the file."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 3)
    rows = [HEADER] + [good_row() for _ in range(12)]
    rows[5][0] = "张\x00三"  # row 6: NUL in a name, which passes every other check
    rows[8][3] = "焊" * 200_000  # row 9: over the csv module's field limit (and Excel's)
    rows[11][2] = "138\x0005310001"  # row 12: NUL in a phone
    content = csv_bytes(rows)
    content += "刘强,carriage\rreturn,,焊工,370100,senior\n".encode()  # row 14: broken CSV
    content += ",".join(good_row("末行")).encode() + b"\n"
    job = await upload(services, admin_headers, content)
    assert job["status"] == "completed", job
    assert job["inserted_rows"] == 10, job
    errors = await row_errors(services, admin_headers, job["id"])
    assert "NUL" in errors[(6, "name")]
    assert "32767" in errors[(9, "occupation")]
    assert "NUL" in errors[(12, "phone")]
    assert "not valid CSV" in errors[(14, "row")]
    assert await worker_count(services) == 10
    assert (await job_row(services, job["id"]))["deleted"] is True


async def test_an_xlsx_with_a_nul_character_reference_fails_its_job_clearly(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """XML cannot hold a NUL at all (`&#0;` is not well-formed), so such a file is not an XLSX:
    its job fails naming the part and line, with nothing imported."""
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'
        + "".join(
            f'<c r="{column_letter(i)}1" t="inlineStr"><is><t>{h}</t></is></c>'
            for i, h in enumerate(HEADER, start=1)
        )
        + '</row><row r="2"><c r="A2" t="inlineStr"><is><t>李&#0;娜</t></is></c></row>'
        "</sheetData></worksheet>"
    ).encode()
    job = await upload(services, admin_headers, xlsx([HEADER], sheet_xml=sheet), "名册.xlsx")
    assert job["status"] == "failed", job
    assert "not well-formed" in job["failure"]
    assert "sheet1.xml" in job["failure"]
    assert await worker_count(services) == 0


# --- XLSX beyond the limits: refused before parsing ----------------------------------------


async def test_real_default_limits_refuse_declared_bombs_at_upload(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """With the shipped defaults: a shared-string table declaring 20 million texts (the 810 KB
    file that took 2 GB), a part whose declared size is 3 GiB, a sheet declaring 16,384
    columns: each a 422 naming the file, in milliseconds, and no job."""
    rows = [HEADER, good_row()]
    hostile = {
        "strings": xlsx(rows, sst_attributes='count="20000000" uniqueCount="20000000"'),
        "unpacked size": declare_size(xlsx(rows), "xl/worksheets/sheet1.xml", 3 * 1024**3),
        "columns": xlsx(rows, dimension="A1:XFD2"),
        "rows": xlsx(rows, dimension="A1:G5000000"),
        "not a zip": b"PK\x03\x04" + b"\x00" * 200,
    }
    for what, content in hostile.items():
        response = await services.registry.post(
            "/v1/imports/workers", files={"file": ("名册.xlsx", content)}, headers=admin_headers
        )
        problem = assert_problem(response, 422)
        assert problem["errors"][0]["field"] == "file", what
    jobs = (await services.registry.get("/v1/imports", headers=admin_headers)).json()
    assert jobs["items"] == []


async def test_a_real_zip_bomb_with_a_lying_header_cannot_inflate_past_it(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """An entry that inflates to 64 MiB while its header says 1 KiB: zipfile stops at the
    declared size and the CRC check fails: a 422 at upload, nothing written, and never
    64 MiB in memory."""
    rows = [HEADER, good_row()]
    padding = b" " * (64 * 1024 * 1024)  # whitespace inside the sheet's XML
    sheet = (
        f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
        + padding
        + b'<row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'
    )
    bomb = declare_size(xlsx(rows, sheet_xml=sheet), "xl/worksheets/sheet1.xml", 1024)
    assert len(bomb) < 200_000
    response = await services.registry.post(
        "/v1/imports/workers", files={"file": ("名册.xlsx", bomb)}, headers=admin_headers
    )
    assert "damaged" in assert_problem(response, 422)["detail"]
    assert await worker_count(services) == 0


async def test_dtd_entities_are_refused(services: Services, admin_headers: dict[str, str]) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    )
    response = await services.registry.post(
        "/v1/imports/workers",
        files={"file": ("名册.xlsx", xlsx([HEADER, good_row()], doctype=laughs))},
        headers=admin_headers,
    )
    assert "document type" in assert_problem(response, 422)["detail"]


class TestCountedLimits:
    """What the file holds, counted by streaming it, whatever it declares (lowered limits)."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={
                "xlsx_max_shared_strings": 50,
                "xlsx_max_columns": 20,
                "xlsx_max_cells": 400,
                "table_max_rows": 30,
                "xlsx_max_uncompressed_bytes": 4 * 1024 * 1024,
            }
        )

    async def test_each_limit_fails_the_job_clearly_before_any_row(
        self, services: Services, admin_headers: dict[str, str]
    ) -> None:
        rows = [HEADER, good_row()]
        wide_cells = "".join(f'<c r="{column_letter(i)}2"><v>1</v></c>' for i in range(1, 40))
        no_refs = "".join("<c><v>1</v></c>" for _ in range(40))
        hostile = {
            # uniqueCount lies (says 3): 60 texts are counted.
            "distinct texts": xlsx(rows, sst_attributes='uniqueCount="3"', extra_strings=60),
            # The dimension says two columns; a cell sits in column 39.
            "columns": xlsx(
                rows,
                sheet_xml=(
                    f'<worksheet xmlns="{MAIN}"><dimension ref="A1:B2"/><sheetData>'
                    f'<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2">{wide_cells}'
                    "</row></sheetData></worksheet>"
                ).encode(),
            ),
            # Cells without references, one after another.
            "columns ": xlsx(
                rows,
                sheet_xml=(
                    f'<worksheet xmlns="{MAIN}"><sheetData><row>{no_refs}</row></sheetData>'
                    "</worksheet>"
                ).encode(),
            ),
            # The dimension says two rows.
            "rows": xlsx([HEADER] + [good_row() for _ in range(40)], dimension="A1:F2"),
            "cells": xlsx([HEADER] + [good_row() + ["x"] * 13 for _ in range(25)]),
        }
        for what, content in hostile.items():
            job = await upload(services, admin_headers, content, "名册.xlsx")
            assert job["status"] == "failed", (what, job)
            assert "too large" in job["failure"], (what, job)
            assert what.strip() in job["failure"], (what, job)
        csv_rows = await upload(
            services, admin_headers, csv_bytes([HEADER] + [good_row() for _ in range(40)])
        )
        assert csv_rows["status"] == "failed"
        assert "more than 30 rows" in csv_rows["failure"]
        bomb = xlsx(rows, sheet_xml=b" " * (5 * 1024 * 1024) + b"<worksheet/>")
        response = await services.registry.post(
            "/v1/imports/workers", files={"file": ("名册.xlsx", bomb)}, headers=admin_headers
        )
        assert "unpacks to more than" in assert_problem(response, 422)["detail"]
        assert await worker_count(services) == 0

    async def test_a_file_within_the_limits_imports(
        self, services: Services, admin_headers: dict[str, str]
    ) -> None:
        job = await upload(
            services, admin_headers, xlsx([HEADER] + [good_row() for _ in range(5)]), "a.xlsx"
        )
        assert (job["status"], job["inserted_rows"]) == ("completed", 5), job


# --- poison jobs: never retried for ever ------------------------------------------------------


class TestPoisonJobs:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"import_max_attempts": 3})

    async def test_a_job_that_fails_every_runner_is_failed_after_the_last_attempt(
        self,
        services: Services,
        admin_headers: dict[str, str],
        database_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(engine, "RETRY_BACKOFF", timedelta(0))
        app = services.apps["registry"]
        # The trigger is staged as the schema owner: the services' login may not create one.
        async with owner_sessionmaker(database_url) as owner, owner() as session, session.begin():
            await session.execute(
                text(
                    "CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'simulated failure'; END $$"
                )
            )
            await session.execute(
                text(
                    "CREATE TRIGGER refuse_all BEFORE INSERT ON workers "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_all()"
                )
            )
        response = await services.registry.post(
            "/v1/imports/workers",
            files={"file": ("w.csv", csv_bytes([HEADER, good_row()]))},
            headers=admin_headers,
        )
        assert response.status_code == 202
        job_id = response.json()["id"]
        for _ in range(100):
            app.state.import_wakeup.set()
            job = (
                await services.registry.get(f"/v1/imports/{job_id}", headers=admin_headers)
            ).json()
            if job["status"] == "failed":
                break
            await asyncio.sleep(0.1)
        assert job["status"] == "failed", job
        assert "3 times" in job["failure"]
        stored = await job_row(services, job_id)
        assert (stored["attempts"], stored["deleted"]) == (3, True)
        await asyncio.sleep(0.3)
        assert (await job_row(services, job_id))["attempts"] == 3  # never claimed again

    async def test_stuck_jobs_are_failed_after_restart_and_their_files_deleted(
        self, services: Services, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Jobs whose runners died (a process killed under them each time; then the service
        restarted): the one started the most times, and the one older than the retention,
        are failed, their files deleted; claim_next never takes them."""
        app = services.apps["registry"]
        gate = asyncio.Event()
        real_run = engine.ImportRunner.run

        async def held(self: engine.ImportRunner, job_id: Any) -> Any:
            await gate.wait()  # a runner that never gets anywhere
            return await real_run(self, job_id)

        monkeypatch.setattr(engine.ImportRunner, "run", held)
        ids = []
        for _ in range(3):
            response = await services.registry.post(
                "/v1/imports/workers",
                files={"file": ("w.csv", csv_bytes([HEADER, good_row()]))},
                headers=admin_headers,
            )
            ids.append(response.json()["id"])
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE import_jobs SET status = 'running', "
                    "lease_until = now() - interval '1 second', attempts = :n, "
                    "created_at = now() - CAST(:age AS interval) WHERE id = :id"
                ),
                [
                    {"id": ids[0], "n": 3, "age": timedelta(minutes=5)},
                    {"id": ids[1], "n": 1, "age": timedelta(hours=25)},
                    {"id": ids[2], "n": 1, "age": timedelta(minutes=5)},
                ],
            )
        failed = await engine.sweep(app.state.sessionmaker, 3, timedelta(hours=24))
        assert failed == 2
        gave_up, expired, alive = [await job_row(services, i) for i in ids]
        assert (gave_up["status"], gave_up["deleted"]) == ("failed", True)
        assert "3 times" in gave_up["failure"]
        assert (expired["status"], expired["deleted"]) == ("failed", True)
        assert "retention" in expired["failure"]
        assert (alive["status"], alive["deleted"]) == ("running", False)
        # Only the live one can still be claimed, and it runs to the end.
        claimed = await engine.claim_next(app.state.sessionmaker, max_attempts=3)
        assert claimed == uuid.UUID(ids[2])
        gate.set()
        done = await engine.ImportRunner(app.state.sessionmaker, app.state.cipher).run(claimed)
        assert done.status.value == "completed"
        assert (await job_row(services, ids[2]))["deleted"] is True


# --- competitions: entries:import -------------------------------------------------------------


async def test_entries_import_bad_rows_are_refused_on_their_own(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """Before: a 5 MB cell answered 500, a NUL in the identity-number column 502 (the
    registry refused the whole lookup), a repeated number 500."""
    event = await open_event(services, admin_headers, capacity=10)
    numbers = [identity_number() for _ in range(2)]
    for number in numbers:
        await worker(services, id_number=number)
    sheet = (
        (
            "姓名,身份证号\n"
            f"甲,{numbers[0]}\n"  # row 2
            f"乙,{numbers[0][:6]}\x00{numbers[0][7:]}\n"  # row 3: NUL
            f'丙,"{"1" * (5 * 1024 * 1024 - 200)}"\n'  # row 4: a 5 MB cell
            "丁,not-a-number\n"  # row 5
            f"戊,{numbers[1].lower()}\n"  # row 6: a lower-case x is still the number
            f"甲,{numbers[0]}\n"  # row 7: repeated
        ).encode()
    )
    assert len(sheet) < 5 * 1024 * 1024
    response = await services.competitions.post(
        f"/v1/events/{event['id']}/entries:import",
        headers=admin_headers,
        files={"file": ("报名表.csv", sheet)},
    )
    assert response.status_code == 200, response.text
    by_row = {r["row_number"]: r for r in response.json()["rows"]}
    assert by_row[2]["status"] == "created"
    assert by_row[3]["failures"][0]["rule"] == "row_readable"
    assert by_row[4]["failures"][0]["rule"] == "row_readable"
    assert by_row[5]["failures"][0]["rule"] == "id_number_valid"
    assert by_row[6]["status"] == "created"
    assert by_row[7]["status"] == "refused"
    assert by_row[7]["failures"][0]["rule"] == "one_entry_per_event"


async def test_entries_import_refuses_xlsx_bombs_with_a_422(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers, capacity=10)
    rows = [["姓名", "身份证号"], ["甲", identity_number()]]
    for content in (
        xlsx(rows, sst_attributes='uniqueCount="20000000"'),
        declare_size(xlsx(rows), "xl/sharedStrings.xml", 3 * 1024**3),
        xlsx(rows, dimension="A1:B99999999"),
    ):
        response = await services.competitions.post(
            f"/v1/events/{event['id']}/entries:import",
            headers=admin_headers,
            files={"file": ("报名表.xlsx", content)},
        )
        assert assert_problem(response, 422)["errors"][0]["field"] == "file"
