"""Certificates: issued with the awards, a PDF with the Chinese text in a CID font and the
verification URL behind its QR code, public verification (valid, revoked, unknown), revocation
by admins, and who may read them."""

from __future__ import annotations

import base64
import contextlib
import re
import zlib
from typing import Any

from tests.conftest import Services, assert_problem
from tests.judging.awards_setup import STANDARD_RULES, add_rules, award_world
from tests.judging.helpers import login

CODE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{16}$")


def _pdf_texts(pdf: bytes) -> list[str]:
    """The strings shown with Tj in the PDF's content streams, decoded (UTF-16BE for the CID
    font, Latin-1 otherwise): a check of what the PDF says, without a PDF library."""
    texts: list[str] = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        raw = match.group(1).strip()
        try:
            content = zlib.decompress(base64.a85decode(raw.removesuffix(b"~>")))
        except ValueError:
            continue
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", content, re.S):
            data = re.sub(
                rb"\\([0-7]{1,3}|.)",
                lambda m: bytes([int(m.group(1), 8)]) if m.group(1).isdigit() else m.group(1),
                literal,
            )
            with contextlib.suppress(UnicodeDecodeError):
                texts.append(data.decode("utf-16-be"))
            texts.append(data.decode("latin-1"))
    return texts


async def _certificates(
    services: Services, admin_headers: dict[str, str]
) -> tuple[Any, list[dict[str, Any]]]:
    world = await award_world(services, admin_headers)
    await add_rules(services, admin_headers, world.stage.stage_id, STANDARD_RULES)
    sent = await services.judging.post(
        f"/v1/stages/{world.stage.stage_id}/awards:send", headers=admin_headers
    )
    assert sent.status_code == 200, sent.text
    listed = await services.judging.get(
        f"/v1/stages/{world.stage.stage_id}/certificates", headers=admin_headers
    )
    assert listed.status_code == 200, listed.text
    return world, listed.json()["items"]


async def test_certificate_pdf_and_verification(
    services: Services, admin_headers: dict[str, str]
) -> None:
    world, certificates = await _certificates(services, admin_headers)
    # The first and second prizes get one each (the third has a file entry only), once
    # however often the awards are sent.
    again = await services.judging.post(
        f"/v1/stages/{world.stage.stage_id}/awards:send", headers=admin_headers
    )
    assert again.status_code == 200
    listed = await services.judging.get(
        f"/v1/stages/{world.stage.stage_id}/certificates", headers=admin_headers
    )
    assert len(listed.json()["items"]) == 2
    by_worker = {c["worker_id"]: c for c in certificates}
    first = by_worker[str(world.workers[0].id)]
    second = by_worker[str(world.workers[1].id)]
    assert set(by_worker) == {str(world.workers[0].id), str(world.workers[1].id)}
    assert first["award_title"] == "一等奖"
    assert second["award_title"] == "二等奖"
    assert CODE.match(first["code"])
    assert first["code"] != second["code"]
    url = f"http://127.0.0.1:8003/v1/certificates:verify?code={first['code']}"
    assert first["verify_url"] == url

    response = await services.judging.get(
        f"/v1/certificates/{first['id']}.pdf", headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    # The QR code is a link to the verification URL, and the Chinese is set in STSong-Light.
    assert f"/URI ({url})".encode() in pdf
    assert b"/BaseFont /STSong-Light" in pdf
    assert b"/Encoding /UniGB-UCS2-H" in pdf
    texts = _pdf_texts(pdf)
    assert "张卫国 同志：" in texts
    assert "荣获 一等奖" in texts
    assert url in texts
    assert any(first["code"][:4] in t for t in texts)

    # Public verification: no token, the name masked.
    verified = await services.judging.get(
        "/v1/certificates:verify", params={"code": first["code"].lower()}
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["status"] == "valid"
    assert body["holder"] == "张*国"
    assert body["award_title"] == "一等奖"
    assert body["competition_name"] == "2026年山东省数控车工职业技能竞赛"
    assert body["revoked_on"] is None
    grouped = "-".join(second["code"][i : i + 4] for i in range(0, 16, 4))
    assert (await services.judging.get("/v1/certificates:verify", params={"code": grouped})).json()[
        "holder"
    ] == "李*英"

    # Unknown code: 404 problem; malformed: 422 naming the parameter.
    assert_problem(
        await services.judging.get("/v1/certificates:verify", params={"code": "ABCD-EFGH-JKMN"}),
        404,
    )
    bad = await services.judging.get("/v1/certificates:verify", params={"code": "<script>"})
    assert assert_problem(bad, 422)["errors"][0]["field"] == "code"

    # Revocation: admins only, with a reason; then verification says revoked.
    organiser = await login(services, "org-province", "organiser", locality_code="370000")
    revoke = f"/v1/certificates/{first['id']}:revoke"
    assert_problem(
        await services.judging.post(revoke, json={"reason": "成绩取消"}, headers=organiser), 403
    )
    revoked = await services.judging.post(
        revoke, json={"reason": "成绩取消"}, headers=admin_headers
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoke_reason"] == "成绩取消"
    assert_problem(
        await services.judging.post(revoke, json={"reason": "again"}, headers=admin_headers), 409
    )
    body = (
        await services.judging.get("/v1/certificates:verify", params={"code": first["code"]})
    ).json()
    assert body["status"] == "revoked"
    assert body["revoked_on"] is not None


async def test_who_may_read_certificates(services: Services, admin_headers: dict[str, str]) -> None:
    world, certificates = await _certificates(services, admin_headers)
    mine = next(c for c in certificates if c["worker_id"] == str(world.workers[0].id))
    other = next(c for c in certificates if c["worker_id"] == str(world.workers[1].id))
    holder = await login(services, "holder", "worker", worker_id=world.workers[0].id)
    assert (
        await services.judging.get(f"/v1/certificates/{mine['id']}.pdf", headers=holder)
    ).status_code == 200
    assert (await services.judging.get(f"/v1/certificates/{mine['id']}", headers=holder)).json()[
        "code"
    ] == mine["code"]
    assert_problem(
        await services.judging.get(f"/v1/certificates/{other['id']}", headers=holder), 403
    )
    judge = await login(services, "judge1", "judge")
    assert_problem(await services.judging.get(f"/v1/certificates/{mine['id']}", headers=judge), 403)
    elsewhere = await login(services, "org-zibo", "organiser", locality_code="370300")
    assert_problem(
        await services.judging.get(f"/v1/certificates/{mine['id']}.pdf", headers=elsewhere), 403
    )
    assert_problem(
        await services.judging.get(
            f"/v1/stages/{world.stage.stage_id}/certificates", headers=elsewhere
        ),
        403,
    )
