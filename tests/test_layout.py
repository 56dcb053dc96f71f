"""The repository's shape: packages resolve here, and imports flow one way."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["backend", "schema", "tenants", "jobs", "policies"]
# Who may import whom (besides itself). backend/app.py and backend/cli.py are the
# composition roots: they wire every concern together and may import anything.
ALLOWED = {
    "backend": set(),
    "policies": {"backend"},
    "tenants": {"backend", "policies"},
    "jobs": {"backend", "tenants"},
    "schema": {"backend", "policies", "tenants"},
}
COMPOSITION_ROOTS = {ROOT / "backend" / "app.py", ROOT / "backend" / "cli.py"}


@pytest.mark.parametrize("package", PACKAGES)
def test_package_resolves_inside_the_repository(package: str) -> None:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(ROOT / package)


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_imports_flow_one_way() -> None:
    violations = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            if path in COMPOSITION_ROOTS:
                continue
            for imported in _imported_packages(path) - allowed - {package}:
                violations.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert violations == []


def test_the_check_sees_violations(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import schema.errors\nfrom jobs import broker\nfrom .local import x\nimport os\n")
    assert _imported_packages(sample) == {"schema", "jobs"}
