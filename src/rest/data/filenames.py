"""Labels carried in file names: ``<anything>_<y>_<b>.png`` (the DisEnt convention).

The DisEnt releases put files in class folders, but the folder is not always the
label (BFFHQ and CMNIST keep some splits flat), so the name is the one source of
truth for both the target and the bias label.
"""

from __future__ import annotations

import re
from pathlib import Path

from rest.errors import RestError

_LABELS = re.compile(r"_(\d+)_(\d+)\.(?:png|jpe?g)$", re.IGNORECASE)


def parse_labels(path: Path) -> tuple[int, int]:
    """``(y, b)`` from a name ending in ``_<y>_<b>.png``; :class:`RestError` otherwise."""
    match = _LABELS.search(path.name)
    if match is None:
        raise RestError(
            f"cannot read labels from the file name {path}: expected a name ending in "
            "_<y>_<b>.png, e.g. 00042_3_7.png"
        )
    return int(match.group(1)), int(match.group(2))


def label_file_name(index: int, y: int, b: int, width: int) -> str:
    """``<index>_<y>_<b>.png`` with the index zero-padded to ``width`` digits.

    The padding makes name order equal sample order, which is how the DisEnt
    reader orders files, so written data reads back in the order it was made.
    """
    return f"{index:0{width}d}_{y}_{b}.png"


def index_width(count: int) -> int:
    """Digits needed to number ``count`` samples (at least 5)."""
    return max(5, len(str(max(count - 1, 0))))
