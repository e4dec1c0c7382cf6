"""Progress bars for reads, writes and generation that take long enough to wonder about.

Bars go to stderr (stdout stays clean for results), only for long work (by
default at least ``MIN_ITEMS`` items), and tqdm leaves them out when stderr is
not a terminal, so logs and captured test output are not filled with carriage
returns.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

MIN_ITEMS = 2000


def progress(
    items: Iterable[T], total: int, desc: str, unit: str = "img", show: bool | None = None
) -> Iterator[T]:
    """Iterate ``items`` with a bar on stderr when the work is long and stderr is a tty.

    The work counts as long when ``total >= MIN_ITEMS``, unless ``show`` says otherwise
    (for bars that count chunks rather than images).
    """
    disable = None if (total >= MIN_ITEMS if show is None else show) else True
    yield from tqdm(
        items, total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable, leave=False
    )
