"""Registration's fast paths, on and off: test modules that cover registration take their
`settings` from `registration_settings`, so every test of theirs runs twice: with both fast
paths on (production), and with both off: the eligibility facts from the registry's
`workers:batch-get` instead of its read model, and one place-taking call per registration
instead of the batcher. (Each switch alone changes nothing the other one's rules depend on.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from tests.conftest import make_settings

REGISTRATION_PATHS: dict[str, dict[str, Any]] = {
    "fast-paths": {},
    "general-paths": {"eligibility_read_model": False, "registration_batching": False},
}


@pytest.fixture(params=list(REGISTRATION_PATHS))
def registration_settings(
    request: pytest.FixtureRequest, database_url: str, key_dir: Path
) -> Settings:
    return make_settings(database_url, key_dir, **REGISTRATION_PATHS[request.param])
