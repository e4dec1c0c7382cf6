"""Corrupted images (LfF/DisEnt protocol): the bias attribute is the corruption type.

Bias value ``k`` means the image went through ``TYPE0[k]`` at the chosen
severity. Grayscale sources are repeated to 3 channels first, so a corrupted
Fashion-MNIST and a corrupted CIFAR-10 have the same format.
"""

from __future__ import annotations

import numpy as np

from rest.data.generators.corruptions import CORRUPTIONS, TYPE0
from rest.data.progress import MIN_ITEMS, progress

# Images per call of a corruption: bounds the float32 working memory (~25 MB at 32x32).
CHUNK = 2048


def corrupt(
    images: np.ndarray, biases: np.ndarray, severity: int, seed: np.random.SeedSequence
) -> np.ndarray:
    """Apply ``TYPE0[bias]`` to each ``(N, C, H, W)`` uint8 image; returns ``(N, 3, H, W)`` uint8.

    Each corruption type draws from its own child of ``seed``, in fixed chunks of
    ``CHUNK`` images, so the output depends only on the inputs and the seed.
    """
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    out = np.empty((len(images), 3, *images.shape[2:]), dtype=np.uint8)
    jobs = []
    for k, (name, child) in enumerate(zip(TYPE0, seed.spawn(len(TYPE0)), strict=True)):
        stream, members = np.random.default_rng(child), np.flatnonzero(biases == k)
        jobs += [(name, stream, members[i : i + CHUNK]) for i in range(0, len(members), CHUNK)]
    bar = progress(jobs, len(jobs), "corrupting", unit="chunk", show=len(images) >= MIN_ITEMS)
    for name, stream, chunk in bar:
        batch = images[chunk].transpose(0, 2, 3, 1).astype(np.float32) / 255.0
        damaged = CORRUPTIONS.get(name)(batch, severity, stream)
        out[chunk] = np.rint(np.clip(damaged, 0.0, 1.0) * 255.0).transpose(0, 3, 1, 2)
    return out


def describe(severity: int) -> dict[str, object]:
    """The generation parameters, for the manifest."""
    return {"bias": "corruption", "corruptions": list(TYPE0), "corruption_severity": severity}
