"""Plain-text description of a loaded dataset: its provenance, split sizes and groups.

The group table (rows = target ``y``, columns = bias ``b``) is the quickest check
that a biased dataset is what it claims: a heavy diagonal in train, a flat table
in an unbiased valid/test split.
"""

from __future__ import annotations

from rest.data.dataset import BiasedDataset, BiasedSplits


def _value(value: object) -> str:
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


def group_table(split: BiasedDataset) -> list[str]:
    """Counts per ``(y, b)`` as aligned text lines; class counts when bias is unknown."""
    if not split.has_bias_labels:
        counts = split.targets.bincount(minlength=split.num_classes).tolist()
        return [
            "no bias labels; images per class: "
            + ", ".join(f"y={y}: {n}" for y, n in enumerate(counts))
        ]
    groups = split.group_counts()
    width = max(len(str(n)) for n in [*groups.values(), split.num_biases]) + 1
    label = len(f"y={split.num_classes - 1}")
    lines = [
        " " * label + "".join(f"{'b=' + str(b):>{width + 2}}" for b in range(split.num_biases))
    ]
    for y in range(split.num_classes):
        cells = "".join(f"{groups.get((y, b), 0):>{width + 2}}" for b in range(split.num_biases))
        lines.append(f"{'y=' + str(y):<{label}}{cells}")
    return lines


def split_summary(name: str, split: BiasedDataset) -> list[str]:
    """Size, aligned/conflicting totals and group table of one split."""
    n = len(split)
    head = f"{name}: {n} images"
    if split.has_bias_labels:
        conflicting = int(split.conflicting.sum())
        head += (
            f", {n - conflicting} aligned, {conflicting} conflicting ({100 * conflicting / n:.2f}%)"
        )
    return [head, *("  " + line for line in group_table(split))]


def describe(splits: BiasedSplits) -> str:
    """``info`` as ``key: value`` lines, then every split's summary."""
    lines = [f"{key}: {_value(value)}" for key, value in splits.info.items()]
    for name, split in splits.splits().items():
        lines += ["", *split_summary(name, split)]
    return "\n".join(lines)
