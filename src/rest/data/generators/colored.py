"""Colored MNIST (LfF protocol): the bias attribute is the colour of the digit.

Each image is the grayscale digit in [0, 1] times one of ten fixed, well separated
RGB colours, where the colour itself is jittered per image by Gaussian noise whose
standard deviation falls with the severity (severity 1 = noisiest colours, the
hardest to use as a shortcut). Values are clipped to [0, 1] and rounded to uint8.
"""

from __future__ import annotations

import numpy as np

# One mean colour per bias value; every pair differs by at least 0.5 in RGB distance.
COLOURS = np.array(
    [
        [1.0, 0.0, 0.0],  # red
        [0.0, 1.0, 0.0],  # green
        [0.0, 0.0, 1.0],  # blue
        [1.0, 1.0, 0.0],  # yellow
        [1.0, 0.0, 1.0],  # magenta
        [0.0, 1.0, 1.0],  # cyan
        [1.0, 0.5, 0.0],  # orange
        [0.5, 0.0, 1.0],  # violet
        [1.0, 1.0, 1.0],  # white
        [0.5, 0.5, 0.5],  # grey
    ]
)

# Per-image colour noise std for severity 1..5 (DESIGN.md 2.1).
NOISE_STD = {1: 0.05, 2: 0.02, 3: 0.01, 4: 0.005, 5: 0.002}

_CHUNK = 8192


def to_gray(images: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` uint8 to ``(N, H, W)`` float32 in [0, 1] (channel mean if C > 1)."""
    return images.astype(np.float32).mean(axis=1) / 255.0


def colorize(
    images: np.ndarray, biases: np.ndarray, severity: int, seed: np.random.SeedSequence
) -> np.ndarray:
    """Colour each image with ``COLOURS[bias]`` plus noise; returns ``(N, 3, H, W)`` uint8."""
    rng = np.random.default_rng(seed)
    colours = COLOURS[biases] + rng.normal(0.0, NOISE_STD[severity], size=(len(biases), 3))
    out = np.empty((len(images), 3, *images.shape[2:]), dtype=np.uint8)
    for start in range(0, len(images), _CHUNK):
        part = slice(start, start + _CHUNK)
        gray = to_gray(images[part])
        tinted = gray[:, None] * colours[part, :, None, None].astype(np.float32)
        out[part] = np.rint(np.clip(tinted, 0.0, 1.0) * 255.0)
    return out


def describe(severity: int) -> dict[str, object]:
    """The generation parameters, for the manifest."""
    return {
        "bias": "colour",
        "colours": COLOURS.tolist(),
        "colour_noise_std": NOISE_STD[severity],
    }
