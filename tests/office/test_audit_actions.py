"""Every action the code writes to the audit log has its Chinese words for the office's pages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from app.audit.actions import ACTION_NAMES, action_name
from app.objections.operations import OUTCOMES
from app.verification.operations import DECISIONS

ROOT = Path(__file__).resolve().parents[2]
ACTION = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
# the f-strings that name actions, with the values they take
EXPANDED = {
    "fact.{decision.decision}": [f"fact.{d}" for d in DECISIONS],
    "objection.{outcome}": [f"objection.{o}" for o in OUTCOMES],
}


def recorded_actions() -> set[str]:
    """The action of every `record(...)`, `Event(...)` and `action=` in the application."""
    found: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", getattr(node.func, "attr", ""))
            candidates = list(node.args) if called in ("record", "Event") else []
            candidates += [k.value for k in node.keywords if k.arg == "action"]
            for value in candidates:
                for text in _texts(value):
                    if isinstance(text, str) and ACTION.match(text):
                        found.add(text)
                    elif isinstance(text, ast.JoinedStr):
                        pattern = ast.unparse(text)[2:-1]
                        assert pattern in EXPANDED, f"{path.name}: expand {pattern} in this test"
                        found.update(EXPANDED[pattern])
    return found


def _texts(node: ast.expr):
    if isinstance(node, ast.Constant):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        yield node
    elif isinstance(node, ast.IfExp):  # "a" if x else "b"
        yield from _texts(node.body)
        yield from _texts(node.orelse)


def test_every_recorded_action_has_its_words():
    actions = recorded_actions()
    assert {
        "application.import",
        "login.failure",
        "fact.reject",
        "objection.maintained",
        "fact.change.refuse",
        "round.edit",
    } <= actions  # fmt: skip  (the search finds them)
    assert sorted(actions - set(ACTION_NAMES)) == []
    assert sorted(set(ACTION_NAMES) - actions) == []  # no words for an action nobody records


def test_an_action_is_named_in_words_and_an_unknown_one_by_its_code():
    assert action_name("application.import") == "批量导入申请"
    assert action_name("fact.reject") == "核验：不予认定"
    assert action_name("some.future_action") == "some.future_action"
