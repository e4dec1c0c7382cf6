"""FLOPs and parameters of the two ResNet-18 stems at the benchmark input sizes.

``resnet18`` (the published ImageNet stem: LfF, DisEnt, official REST code) against
``resnet18-cifar`` (3x3 stride-1 stem, no max pool), counted with
:func:`rest.sparse.inference_flops` (``torch.utils.flop_counter``: one multiply-add
counts 2 FLOPs) for one image, dense, 10 classes, width 64.

Usage: python benchmarks/resnet_stems.py [--sizes 32 64 128] [--out FILE.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rest.models import build_model
from rest.sparse import inference_flops
from rest.tables import markdown_table

MODELS = ("resnet18", "resnet18-cifar")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        flops = {}
        for name in MODELS:
            model = build_model(name, 10, (3, size, size))
            flops[name] = inference_flops(model, (3, size, size))["dense"]
            params = sum(p.numel() for p in model.parameters())
            rows.append([name, f"{size}x{size}", f"{flops[name] / 1e6:,.1f}", f"{params:,}"])
        rows[-1].append(f"{flops['resnet18-cifar'] / flops['resnet18']:.1f}x")
        rows[-2].append("")
    table = markdown_table(
        ["model", "input", "MFLOPs / image", "parameters", "cifar / published"], rows
    )
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
