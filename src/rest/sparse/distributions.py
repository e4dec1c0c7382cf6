"""Layer-density distributions: how one global density is shared among layers.

A distribution is a function from a weight's shape to a raw score. A layer's
density is ``scale * score`` with a single ``scale`` solved so that the kept
weights add up to the global density; a layer whose density would exceed 1 is made
dense and the scale re-solved for the rest (Evci et al. 2020, RigL). Scores that
favour small layers (ER, ERK) keep thin layers such as the first convolution and
the classifier from being starved at low density.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence

from rest.errors import RestError
from rest.registry import Registry

Distribution = Callable[[Sequence[int]], float]

DISTRIBUTIONS: Registry[Distribution] = Registry("layer-density distribution")


@DISTRIBUTIONS.register("uniform")
def uniform(shape: Sequence[int]) -> float:
    """Every layer gets the same density."""
    return 1.0


@DISTRIBUTIONS.register("er")
def erdos_renyi(shape: Sequence[int]) -> float:
    """Erdős–Rényi (SET): (fan_out + fan_in) / (fan_out * fan_in), kernel size ignored."""
    fan_out, fan_in = shape[0], shape[1] if len(shape) > 1 else 1
    return (fan_out + fan_in) / (fan_out * fan_in)


@DISTRIBUTIONS.register("erk")
def erdos_renyi_kernel(shape: Sequence[int]) -> float:
    """Erdős–Rényi-Kernel (RigL): (sum of all dimensions) / (product of all dimensions)."""
    return sum(shape) / math.prod(shape)


def layer_densities(
    distribution: str,
    shapes: Sequence[Sequence[int]],
    density: float,
    dense: Collection[int] = (),
) -> list[float]:
    """Per-layer densities whose weighted mean is ``density``.

    ``dense`` holds indices of layers kept dense on request (first/last layer); the
    other layers share what is left of the budget, so the global density stays the
    requested one.
    """
    score = DISTRIBUTIONS.get(distribution)
    sizes = [math.prod(shape) for shape in shapes]
    raw = [score(shape) for shape in shapes]
    budget = density * sum(sizes)
    is_dense = set(dense)
    forced = sum(sizes[i] for i in is_dense)
    if density < 1.0 and forced >= budget:
        raise RestError(
            f"density {density} is too low to keep the first/last layer dense: those layers "
            f"alone hold {forced} of {sum(sizes)} maskable weights; raise the density or "
            "turn off dense_first_layer/dense_last_layer"
        )
    scale = 0.0
    while True:
        free = [i for i in range(len(sizes)) if i not in is_dense]
        if not free:
            break
        remaining = budget - sum(sizes[i] for i in is_dense)
        scale = remaining / sum(raw[i] * sizes[i] for i in free)
        widest = max(free, key=lambda i: raw[i])
        if scale * raw[widest] <= 1.0:
            break
        is_dense.add(widest)
    return [1.0 if i in is_dense else scale * raw[i] for i in range(len(sizes))]


def layer_counts(densities: Sequence[float], sizes: Sequence[int], density: float) -> list[int]:
    """Integer active-weight counts for ``densities`` that hit ``density`` globally.

    Each count is the floor of its ideal share, then the weights still missing to
    reach ``round(density * total)`` go one each to the layers with the largest
    fractional remainders (largest-remainder rounding). Every layer keeps at least one
    weight so no layer is cut off, so the realised total is within one weight per
    layer of the requested one.
    """
    ideal = [d * n for d, n in zip(densities, sizes, strict=True)]
    counts = [min(n, math.floor(x)) for x, n in zip(ideal, sizes, strict=True)]
    missing = round(density * sum(sizes)) - sum(counts)
    by_remainder = sorted(range(len(sizes)), key=lambda i: ideal[i] - counts[i], reverse=True)
    for i in by_remainder:
        if missing <= 0:
            break
        if counts[i] < sizes[i]:
            counts[i] += 1
            missing -= 1
    return [max(1, count) for count in counts]
