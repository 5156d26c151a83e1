"""The `jifen` console script: one argparse tree, each domain package registers its own commands."""

from __future__ import annotations

import argparse
import importlib
import sys

# Which package registers which commands. Only the package a command needs is imported, so
# `jifen allocate` does not pay for the scoring engine's imports, nor `jifen score` for OR-Tools.
COMMANDS = {
    "score": "scoring",
    "tables": "scoring",
    "allocate": "allocation",
    "instance": "allocation",
}


def build_parser(packages: tuple[str, ...] = ("scoring", "allocation")) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jifen", description="Jifen 积分制入户/积分入学: points tables, scoring and allocation"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for package in packages:
        importlib.import_module(f"{package}.cli").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    packages = (COMMANDS[command],) if command in COMMANDS else ("scoring", "allocation")
    args = build_parser(packages).parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
