"""Inference FLOPs and compact checkpoint size per density."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from rest.models import build_model
from rest.sparse import SparseConfig, SparseTraining, inference_flops, save_compact
from speed_report import markdown_table
from speed_training import SEED

FLOP_DENSITIES = (1.0, 0.5, 0.1, 0.05, 0.01)


FLOP_MODELS = (("cnn", (3, 28, 28)), ("resnet18", (3, 32, 32)), ("resnet18", (3, 128, 128)))


def flops_and_sizes(scratch: Path) -> list[dict]:
    """Inference FLOPs and compact checkpoint bytes per density (ERK masks at init)."""
    rows = []
    path = scratch / "checkpoint.pt"
    for name, shape in FLOP_MODELS:
        torch.manual_seed(SEED)
        base = build_model(name, 10, shape)
        dense_bytes = 0
        for density in FLOP_DENSITIES:
            model = copy.deepcopy(base)
            masks = SparseTraining(model, SparseConfig(density=density), 1, SEED).masks
            flops = inference_flops(model, shape, masks)
            save_compact(path, model.state_dict(), masks, {"density": density})
            size = path.stat().st_size
            dense_bytes = dense_bytes or size  # FLOP_DENSITIES starts with the dense model
            rows.append(
                {
                    "model": name,
                    "input": "x".join(map(str, shape)),
                    "density": density,
                    "dense_flops": flops["dense"],
                    "sparse_flops": flops["sparse"],
                    "flops_ratio": flops["ratio"],
                    "checkpoint_bytes": size,
                    "size_ratio": size / dense_bytes,
                }
            )
    return rows


def flops_section(rows: list[dict]) -> list[str]:
    table = markdown_table(
        [
            "model",
            "input",
            "density",
            "dense MFLOPs",
            "sparse MFLOPs",
            "FLOPs ratio",
            "checkpoint bytes",
            "size ratio",
        ],
        [
            [
                r["model"],
                r["input"],
                f"{r['density']:g}",
                f"{r['dense_flops'] / 1e6:,.1f}",
                f"{r['sparse_flops'] / 1e6:,.2f}",
                f"{r['flops_ratio']:.4f}",
                f"{r['checkpoint_bytes']:,}",
                f"{r['size_ratio']:.4f}",
            ]
            for r in rows
        ],
    )
    return [
        "## Inference FLOPs and compact checkpoint size per density",
        "",
        "Per-sample inference FLOPs (`rest.sparse.inference_flops`, ERK masks) and the size "
        "of a `save_compact` file; ratios to density 1.",
        "",
        table,
        "",
    ]
