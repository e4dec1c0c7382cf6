"""``rest data make``: write a generated benchmark in the DisEnt layout, with a manifest.

The files are exactly the in-memory arrays of :meth:`Benchmark.generate` (PNG is
lossless), named ``<index>_<y>_<b>.png`` so that the DisEnt reader reads them back
in generation order. The valid split is the
same for every ratio and is written under each ``<pct>pct/``; the test split is
written once under ``test/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rest import __version__
from rest.data.access import permission_checked
from rest.data.arrays import SplitArrays
from rest.data.atomic import atomic_directory
from rest.data.config import DataConfig
from rest.data.datasets import DATASETS
from rest.data.filenames import index_width, label_file_name
from rest.data.images import write_pngs
from rest.data.manifest import write_manifest
from rest.data.readers.disent import pct_dir_name
from rest.errors import RestError
from rest.outputs import check_output_dir

MANIFEST_FORMAT = "rest-disent/1"


def _write_split(
    split: SplitArrays, directory: Path, class_folders: Sequence[str], desc: str
) -> None:
    """Write ``split`` under ``directory``; sample ``i`` goes to ``class_folders[i]``."""
    width = index_width(len(split))
    labels = zip(split.targets.tolist(), split.biases.tolist(), class_folders, strict=True)
    paths = [
        directory / folder / label_file_name(i, y, b, width)
        for i, (y, b, folder) in enumerate(labels)
    ]
    for parent in sorted({p.parent for p in paths}):
        parent.mkdir(parents=True, exist_ok=True)
    write_pngs(split.images, paths, desc)


def _train_folders(split: SplitArrays) -> list[str]:
    """``align/<y>`` or ``conflict/<y>`` per sample (the benchmarks' aligned bias is y)."""
    return [
        f"{'align' if y == b else 'conflict'}/{y}"
        for y, b in zip(split.targets.tolist(), split.biases.tolist(), strict=True)
    ]


def make_dataset(
    name: str,
    out: Path,
    conflict_pcts: Sequence[float],
    *,
    source: str | None = None,
    severity: int = 4,
    heldout: str = "auto",
    data_seed: int = 0,
    force: bool = False,
) -> dict[str, object]:
    """Generate benchmark ``name`` for each conflict ratio and write it to ``out``.

    Returns the manifest. The same arguments always give byte-identical files.
    """
    benchmark = DATASETS.get(name)
    pcts = sorted({float(p) for p in conflict_pcts})
    if not pcts:
        raise RestError("give at least one conflict ratio")
    for pct in pcts:  # the same checks as for training on the name
        DataConfig(
            dataset=name, conflict_pct=pct, severity=severity, heldout=heldout, data_seed=data_seed
        )
    check_output_dir(out)
    protocol = benchmark.heldout_protocol(heldout)
    with permission_checked():
        images = benchmark.load_source(source)
    sizes: dict[str, int] = {}
    with atomic_directory(out, force) as root:
        test = benchmark.generate_split(images, "test", 0.0, severity, data_seed, protocol)
        _write_split(test, root / "test", [str(y) for y in test.targets.tolist()], "writing test")
        valid = benchmark.generate_split(images, "valid", 0.0, severity, data_seed, protocol)
        valid_folders = (
            [""] * len(valid) if benchmark.flat_valid else [str(y) for y in valid.targets.tolist()]
        )
        sizes.update(valid=len(valid), test=len(test))
        for pct in pcts:
            train = benchmark.generate_split(images, "train", pct, severity, data_seed)
            ratio_dir = root / pct_dir_name(pct)
            for part in ("align", "conflict"):  # both exist even when one is empty
                (ratio_dir / part).mkdir(parents=True)
            _write_split(train, ratio_dir, _train_folders(train), f"writing {pct:g}pct train")
            _write_split(valid, ratio_dir / "valid", valid_folders, f"writing {pct:g}pct valid")
            sizes[f"train_{pct:g}pct"] = len(train)
            sizes[f"conflicting_{pct:g}pct"] = int(np.sum(train.targets != train.biases))
        return write_manifest(
            root,
            {
                "format": MANIFEST_FORMAT,
                "rest_version": __version__,
                "generator": benchmark.name,
                "source": images.name,
                "source_description": images.description,
                "data_seed": data_seed,
                "severity": severity,
                "heldout": protocol,
                "conflict_pcts": pcts,
                "num_classes": images.num_classes,
                "parameters": benchmark.describe(severity),
                "recommended": benchmark.recommended(),
                "sizes": sizes,
            },
        )
