"""The README documents every setting and names the two commands CI and people rely on."""

from __future__ import annotations

from shared.config import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert not missing, f"README's configuration table lacks {missing}"


def test_the_two_commands_come_first_and_ci_runs_the_test_command() -> None:
    first_block = README.split("```")[1]
    assert "make demo" in first_block
    assert "make test" in first_block
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
