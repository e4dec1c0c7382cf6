"""The ``rest`` command line: parsing only; every command calls the Python API.

Each sub-command lives in its own module exposing ``register(subparsers)``, which
adds its parser and sets ``func`` (a callable taking the parsed namespace and
returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rest import __version__
from rest.errors import RestError

COMMAND_MODULES = [
    "rest.cli.data",
    "rest.cli.train",
    "rest.cli.sweep",
    "rest.cli.tune",
    "rest.cli.report",
    "rest.cli.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rest",
        description="REweighted Sparse Training: sparse networks that stay accurate on "
        "the minority groups of a biased dataset.",
    )
    parser.add_argument("--version", action="version", version=f"rest {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RestError as error:
        print(f"rest: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        hint = f"; {interrupt}" if str(interrupt) else ""  # a command may say how to resume
        print(f"rest: interrupted{hint}", file=sys.stderr)
        return 130
