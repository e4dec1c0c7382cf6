"""Which bias value each sample gets: exact, deterministic group counts.

Per class ``y`` with ``n`` samples, ``round(ratio * n)`` samples are conflicting
and spread as evenly as possible over the other bias values; the rest carry
``y``'s own bias. The remainder of that spread goes to the bias values right
after ``y`` (``y+1, y+2, ...`` modulo the number of values), so over all classes
every bias value receives about the same number of extras. Only *which* samples
land in which group is random (seeded); the counts are fixed by the rule.
"""

from __future__ import annotations

import numpy as np

from rest.data.partition import round_half_up


def bias_counts(n: int, label: int, num_biases: int, conflict_ratio: float) -> np.ndarray:
    """How many of ``n`` samples of class ``label`` get each bias value."""
    n_conflict = round_half_up(conflict_ratio * n)
    counts = np.zeros(num_biases, dtype=np.int64)
    counts[label] = n - n_conflict
    base, extra = divmod(n_conflict, num_biases - 1)
    for k in range(1, num_biases):
        counts[(label + k) % num_biases] = base + (1 if k <= extra else 0)
    return counts


def uniform_ratio(num_biases: int) -> float:
    """The conflict ratio at which all bias values are equally frequent (0.9 for 10)."""
    return (num_biases - 1) / num_biases


def assign_biases(
    labels: np.ndarray, num_biases: int, conflict_ratio: float, rng: np.random.Generator
) -> np.ndarray:
    """One bias value per sample with the exact counts of :func:`bias_counts`."""
    biases = np.empty(len(labels), dtype=np.int64)
    for label in range(num_biases):
        members = rng.permutation(np.flatnonzero(labels == label))
        counts = bias_counts(len(members), label, num_biases, conflict_ratio)
        biases[members] = np.repeat(np.arange(num_biases), counts)
    return biases
