"""``rest data``: make, inspect and list datasets. Parsing only; the work is in ``rest.data``."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path

from rest.data import (
    DATASETS,
    READERS,
    SOURCES,
    DataConfig,
    find_reader,
    load_dataset,
    make_dataset,
)
from rest.data.access import permission_checked
from rest.data.config import HELDOUT
from rest.data.manifest import verify_manifest
from rest.data.readers.disent import conflict_ratios
from rest.data.summary import describe
from rest.errors import RestError

# DataConfig fields that ``rest data info`` takes as its own arguments.
_INFO_OWN = ("dataset", "conflict_pct")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data", help="make, inspect and list datasets", description=__doc__
    )
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    make = commands.add_parser(
        "make",
        help="generate a benchmark and write it in the DisEnt layout",
        description="Generate a registered benchmark deterministically and write it as "
        "DIR/<pct>pct/{align,conflict,valid}/..., DIR/test/... with a manifest. "
        "Same arguments, same bytes.",
    )
    make.add_argument("name", help=f"dataset to generate: {', '.join(DATASETS.names())}")
    make.add_argument(
        "--conflict-pct",
        type=float,
        nargs="+",
        default=[1.0],
        metavar="PCT",
        help="one or more conflict ratios in percent (default: 1; the standard set: 0.5 1 2 5)",
    )
    make.add_argument("--out", type=Path, required=True, help="directory to create")
    make.add_argument("--source", help=_help("source"))
    make.add_argument(
        "--data-seed",
        "--seed",
        dest="seed",
        type=int,
        default=0,
        help=_help("data_seed") + " (default: 0; --seed is the same flag)",
    )
    make.add_argument("--severity", type=int, default=4, help=_help("severity") + " (default: 4)")
    make.add_argument("--heldout", default="auto", choices=HELDOUT, help=_help("heldout"))
    make.add_argument("--force", action="store_true", help="replace a non-empty --out")
    make.set_defaults(func=run_make)

    info = commands.add_parser(
        "info",
        help="print split sizes and group counts of a dataset",
        description="Load a dataset (a registered name or a path) and print its split "
        "sizes and (y, b) group table.",
    )
    info.add_argument("dataset", help=_help("dataset"))
    info.add_argument(
        "--conflict-pct",
        type=float,
        default=None,
        help="conflict ratio in percent (default: every ratio of a DisEnt folder; 1 otherwise)",
    )
    info.add_argument(
        "--verify",
        action="store_true",
        help="check every file of a folder written by rest data make against the SHA-256 in "
        "its rest-manifest.json before loading it",
    )
    _add_config_flags(info, exclude=_INFO_OWN)
    info.set_defaults(func=run_info)

    listing = commands.add_parser("list", help="list datasets, layouts and image sources")
    listing.set_defaults(func=run_list)


def _help(name: str) -> str:
    fields = {f.name: f for f in dataclasses.fields(DataConfig)}
    return str(fields[name].metadata["help"])


def _add_config_flags(parser: argparse.ArgumentParser, exclude: tuple[str, ...]) -> None:
    """One ``--flag`` per DataConfig field, typed and documented from the field."""
    hints = typing.get_type_hints(DataConfig)
    for f in dataclasses.fields(DataConfig):
        if f.name in exclude:
            continue
        kind = hints[f.name]
        if isinstance(kind, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=kind,
            default=f.default,
            choices=f.metadata.get("choices"),
            help=_with_default(str(f.metadata["help"]), f.default),
        )


def _with_default(text: str, default: object) -> str:
    return text if "default" in text else f"{text} (default: {default})"


def run_make(args: argparse.Namespace) -> int:
    manifest = make_dataset(
        args.name,
        args.out,
        args.conflict_pct,
        source=args.source,
        severity=args.severity,
        heldout=args.heldout,
        data_seed=args.seed,
        force=args.force,
    )
    ratios = ", ".join(f"{p:g}%" for p in manifest["conflict_pcts"])  # type: ignore[attr-defined]
    print(
        f"wrote {manifest['files']} images of {args.name} (conflict {ratios}, seed {args.seed}, "
        f"severity {args.severity}, {manifest['heldout']} valid/test) to {args.out}; "
        f"sha256 {manifest['sha256']}"
    )
    return 0


def run_info(args: argparse.Namespace) -> int:
    names = [f.name for f in dataclasses.fields(DataConfig) if f.name != "conflict_pct"]
    config = DataConfig(**{name: getattr(args, name) for name in names})
    ratios = [config.conflict_pct if args.conflict_pct is None else args.conflict_pct]
    verified = []
    with permission_checked():
        path = Path(config.dataset).expanduser()
        if args.verify:
            if config.dataset in DATASETS:
                raise RestError(
                    f"--verify checks files written by rest data make; {config.dataset} is "
                    "generated in memory"
                )
            verified.append(verify_manifest(path if path.is_dir() else path.parent))
        every_ratio = args.conflict_pct is None and config.dataset not in DATASETS
        if every_ratio and path.exists() and find_reader(path, config.layout).name == "disent":
            ratios = list(conflict_ratios(path))
    configs = [dataclasses.replace(config, conflict_pct=p) for p in ratios]
    # looking at a dataset writes nothing: a valid cache entry is used, none is built
    blocks = [describe(load_dataset(c, build_cache=False)) for c in configs]
    print("\n\n".join(verified + blocks))
    return 0


def run_list(args: argparse.Namespace) -> int:
    print("datasets (rest data make NAME, or --dataset NAME):")
    for name in DATASETS.names():
        benchmark = DATASETS.get(name)
        print(f"  {name:<15}{benchmark.summary} [default source: {benchmark.default_source}]")
    print("layouts (rest data info PATH --layout NAME):")
    for name in READERS.names():
        print(f"  {name:<15}{READERS.get(name).expects}")
    print("image sources (--source NAME, or a directory of IDX files / CIFAR-10 batches):")
    for name in SOURCES.names():
        print(f"  {name:<15}{SOURCES.get(name).summary}")
    return 0
