"""``rest train`` and ``rest eval``."""

from __future__ import annotations

import argparse
import errno
import json
import shlex
from pathlib import Path
from typing import Any

from rest.cli.options import add_config_flags, config_from_args
from rest.errors import RestError
from rest.tables import human_count, markdown_table, percent

DEFAULT_RUNS_DIR = "runs"
# A write that fails for want of space (or of quota): the run resumes once there is room.
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train one run (flags or a JSON config file)",
        description="Train one run. Settings come from the defaults, then --config, then flags.",
    )
    train.add_argument("--config", help="JSON config file (as written to a run's config.json)")
    train.add_argument(
        "--out",
        help=f"run directory (default: {DEFAULT_RUNS_DIR}/<method>-<data>-<pct>-...-<hash>)",
    )
    train.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --out"
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bars or epoch lines")
    add_config_flags(train)
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint on a dataset's splits",
        description="Group metrics of a checkpoint (best.pt or last.pt of a run) on every split.",
    )
    evaluate.add_argument("checkpoint", help="a .pt checkpoint written by rest train")
    evaluate.add_argument(
        "--data", help="dataset name or directory (default: the data the model was trained on)"
    )
    evaluate.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(func=run_eval)


def run_train(args: argparse.Namespace) -> int:
    from rest.api import train
    from rest.naming import run_name
    from rest.outputs import check_output_dir
    from rest.runs import RunDirectory

    config = config_from_args(args, flags_must_apply=True)
    out = Path(args.out) if args.out else Path(DEFAULT_RUNS_DIR) / run_name(config)
    if not RunDirectory(out).finished:  # a finished run is only read
        check_output_dir(out)
    try:
        summary = train(config, out=out, resume=args.resume, progress=not args.no_progress)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_resume_hint(out)) from None
    except OSError as error:
        if error.errno not in FULL_DISK:
            raise
        where = error.filename or out
        raise RestError(
            f"no space left on the device writing {where}; free some space, then "
            + _resume_hint(out)
        ) from None
    print(format_summary(summary))
    print(f"\nrun directory: {out}")
    return 0


def _resume_hint(out: Path) -> str:
    """The exact command that continues an interrupted run (its settings are in config.json)."""
    config = out / "config.json"
    if not config.is_file():
        return "nothing was saved; run the same command again"
    command = ["rest", "train", "--config", str(config), "--out", str(out), "--resume"]
    return "continue with: " + shlex.join(command)


def run_eval(args: argparse.Namespace) -> int:
    from rest.api import evaluate

    results = evaluate(args.checkpoint, data=args.data, device=args.device)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    rows = [
        [name, *_metric_cells(results[name])]
        for name in ("train", "valid", "test")
        if name in results
    ]
    print(f"{results['checkpoint']} on {results['dataset']}")
    print(markdown_table(["split", *METRIC_HEADERS], rows))
    return 0


METRIC_HEADERS = ["accuracy", "aligned", "conflicting", "unbiased", "worst group"]


def _metric_cells(metrics: dict[str, Any] | None) -> list[str]:
    if metrics is None:
        return ["-"] * len(METRIC_HEADERS)
    keys = ("accuracy", "aligned", "conflicting", "unbiased", "worst_group")
    return [percent(metrics.get(k)) for k in keys]


def format_summary(summary: dict[str, Any]) -> str:
    """The end-of-run report: selected and last epoch test metrics, size and cost."""
    rows = []
    for label, key in (("selected", "selected"), ("last", "last")):
        record = summary.get(key) or {}
        for split in ("valid", "test"):
            if split in record:
                rows.append(
                    [f"{label} (epoch {record['epoch']})", split, *_metric_cells(record[split])]
                )
    size = summary["size"]
    flops = summary["flops"]["inference"]
    lines = [
        f"{summary['method']} on {summary['dataset']} (density {summary['density']:g}, "
        f"seed {summary['seed']}); model selected by {summary['selection']['metric']}",
        markdown_table(["epoch", "split", *METRIC_HEADERS], rows),
        f"non-zero parameters {human_count(size['nonzeros'])} of "
        f"{human_count(size['total_params'])}; inference FLOPs {human_count(flops['sparse'])} "
        f"({flops['ratio']:.3f} of dense); {summary['time']['seconds_per_epoch']:.1f}s per epoch",
    ]
    if summary.get("reweight"):
        reweight = summary["reweight"]
        line = (
            f"upweighted {reweight['upweighted']} samples ({reweight['source']}) "
            f"by {reweight['lambda_up']:g} via {reweight['reweight_by']}"
        )
        if reweight.get("precision") is not None:
            line += (
                f"; precision {percent(reweight['precision'])}%"
                f" recall {percent(reweight['recall'])}%"
            )
        lines.append(line)
    if summary.get("sparse"):
        sparse = summary["sparse"]
        schedule = (
            f"{sparse['updates_done']} mask updates every {sparse['update_frequency']} steps"
            if sparse.get("update_frequency")
            else "a fixed mask"
        )
        lines.append(
            f"sparse: {sparse['strategy']} with {schedule}; exploration rate "
            f"{percent(sparse.get('exploration_rate'))}%"
        )
    return "\n".join(lines)
