"""Every third-party module the code imports comes from a distribution pyproject.toml declares:
the runtime dependencies for the packages, those or the dev group for tests and benchmarks. A
package that only arrives through another one's dependencies can disappear with it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"app", "scoring", "allocation"}


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement such as `psycopg[binary]>=3.2`."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


def declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = {_name(r) for r in project["project"]["dependencies"]}
    dev = {_name(r) for r in project["dependency-groups"]["dev"]}
    return runtime, dev


def imported(*folders: str) -> dict[str, set[str]]:
    """Top-level third-party modules imported under `folders` -> the files importing them.
    A module that is a file under `folders` (a test helper such as office_helpers) is local."""
    paths = sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))
    local = {path.stem for path in paths}
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY or top in local:
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def undeclared(modules: dict[str, set[str]], allowed: set[str]) -> dict[str, set[str]]:
    dists = packages_distributions()
    return {
        module: files
        for module, files in modules.items()
        if not {_name(d) for d in dists.get(module, [module])} & allowed
    }


def test_the_packages_import_only_declared_runtime_dependencies():
    runtime, _ = declared()
    assert undeclared(imported("app", "scoring", "allocation"), runtime) == {}


def test_tests_and_benchmarks_import_only_declared_dependencies():
    runtime, dev = declared()
    assert undeclared(imported("tests", "benchmarks"), runtime | dev) == {}
