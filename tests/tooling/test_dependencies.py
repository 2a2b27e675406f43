"""Every third-party module the application imports is one of its declared dependencies ([project]
dependencies in pyproject.toml), not only something the test or lint extras happen to install: `feeds.fetch`
imported `requests`, which only the test extra declared, and the contract check's runtime-only install failed
to start the app. No service needed (the fast tier)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.harness import ROOT

PACKAGES = (
    "app",
    "zones",
    "campaigns",
    "smsc_gateway",
    "smsc_simulator",
    "subscribers",
    "billing",
    "syrena_core",
    "feeds",
)


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_top_levels() -> dict[str, str]:
    """Top-level module → a file importing it, for every absolute import in the application's packages."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_imported_distribution_is_a_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(r) for r in project["dependencies"]}
    distributions = packages_distributions()
    ours = set(PACKAGES)
    missing = []
    for module, where in sorted(_imported_top_levels().items()):
        if module in ours or module in sys.stdlib_module_names:
            continue
        names = {_name(d) for d in distributions.get(module, [module])}
        if not names & declared:
            missing.append(f"{module} ({'/'.join(sorted(names))}, imported by {where})")
    assert not missing, f"imported but not in [project] dependencies of pyproject.toml: {missing}"
