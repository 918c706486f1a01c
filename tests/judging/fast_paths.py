"""The score writes' fast path on and off: suites that import `settings` from here run every
test twice, once answered by the SQL functions of the fast path (`judging_put_sheet`,
`judging_submit_sheet`) where they apply and once by the general path only, so that the two
cannot drift apart unnoticed."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import Settings
from tests.conftest import make_settings


@pytest.fixture(params=[True, False], ids=["fast-path", "general-path"])
def settings(request: pytest.FixtureRequest, database_url: str, key_dir: Path) -> Settings:
    return make_settings(database_url, key_dir, score_fast_path=request.param)
