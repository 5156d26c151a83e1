"""The `jifen` console script: one argparse tree, each domain package registers its own commands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Which module registers which commands. Only the module a command needs is imported, so
# `jifen allocate` does not pay for the scoring engine's imports, nor `jifen score` for OR-Tools
# or the database.
COMMANDS = {
    "score": "scoring.cli",
    "tables": "scoring.cli",
    "allocate": "allocation.cli",
    "instance": "allocation.cli",
    "db": "app.commands",
    "users": "app.commands",
    "rounds": "app.commands",
    "applications": "app.commands",
    "tokens": "app.commands",
    "audit": "app.commands",
    "demo": "app.commands",
    "certificates": "app.certificates.commands",
}
EVERYTHING = ("scoring.cli", "allocation.cli", "app.commands", "app.certificates.commands")


def build_parser(modules: tuple[str, ...] = EVERYTHING) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jifen", description="Jifen 积分制入户/积分入学: points tables, scoring and allocation"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    modules = (COMMANDS[command],) if command in COMMANDS else EVERYTHING
    args = build_parser(modules).parse_args(argv)
    try:
        return args.handler(args) or 0
    except BrokenPipeError:
        # Whoever read the output stopped early (`jifen … | head`): not an error. Point stdout
        # at /dev/null so that Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
