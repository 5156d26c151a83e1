"""Jifen web app: the public points checker (积分测算) and its JSON API, and the `jifen` command.

`create_app` is loaded on first use, so that `jifen` (app/cli.py) starts without importing Flask.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from app.factory import create_app

        return create_app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
