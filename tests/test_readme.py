"""README.md describes what exists: every setting, every command, every folder."""

from __future__ import annotations

import re

from backend.settings import Settings, reference_table
from tests.processes import ROOT, cli_commands

README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_the_configuration_table_is_generated_from_the_settings() -> None:
    start = README.index("<!-- settings:start")
    body = README[README.index("\n", start) + 1 : README.index("<!-- settings:end -->")]
    assert body == reference_table(), (
        "README.md's configuration table differs from backend/settings.py: replace the lines between "
        "the settings markers with the output of `python -m backend.cli config --reference`"
    )


def test_the_reference_table_has_one_well_formed_row_per_setting() -> None:
    rows = reference_table().splitlines()[2:]
    assert [row.split(" | ")[0].removeprefix("| ").strip("`") for row in rows] == [
        f"RAPPORT_{name.upper()}" for name in Settings.model_fields
    ]
    assert all(row.count("|") == 4 for row in rows)  # no description breaks out of its cell


def test_every_command_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z][a-z-]*(?: [a-z][a-z-]*)?)[ `]", _section("CLI"), re.MULTILINE))
    commands = [c for c in cli_commands() if c]
    leaves = {" ".join(c) for c in commands if not any(len(o) > len(c) and o[: len(c)] == c for o in commands)}
    assert documented == leaves


def test_every_folder_is_on_the_map() -> None:
    mapped = set(re.findall(r"^\| `([a-z_]+)/` \|", _section("Folder map"), re.MULTILINE))
    present = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert mapped == present, f"only on the map: {sorted(mapped - present)}, missing: {sorted(present - mapped)}"
