"""The `jifen` console script: one argparse tree, each domain package registers its own commands."""

from __future__ import annotations

import argparse
import sys

from allocation import cli as allocation_cli
from scoring import cli as scoring_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jifen", description="Jifen 积分制入户/积分入学: points tables, scoring and allocation"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scoring_cli.register(commands)
    allocation_cli.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
