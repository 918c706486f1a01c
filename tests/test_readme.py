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


def test_the_api_conventions_snippets_are_the_files_the_tests_run() -> None:
    """README's "API conventions" quotes the Python and TypeScript snippets verbatim: the files
    that tests/contract/test_generated_clients.py and tests/e2e/test_typescript_client.py
    generate clients for, type-check and run against the services."""
    import re

    section = README.split("\n## API conventions\n", 1)[1].split("\n## ", 1)[0]
    snippets = PROJECT_ROOT / "docs" / "snippets"
    for language, name in (("python", "readme_example.py"), ("ts", "readme_example.ts")):
        blocks = re.findall(rf"^```{language}\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
        expected = (snippets / name).read_text(encoding="utf-8")
        assert expected in blocks, f"README's API conventions must quote docs/snippets/{name}"
