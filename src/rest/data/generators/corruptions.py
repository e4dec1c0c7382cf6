"""The ten ImageNet-C style corruptions of LfF's "Type0" set, written for small images.

Every corruption takes a batch ``(N, H, W, 3)`` of float32 images in [0, 1], a
severity 1..5 and a seeded ``numpy`` generator, and returns a batch of the same
shape in [0, 1]. They work on whole batches with NumPy/SciPy where the operation
allows (JPEG and pixelation go through PIL per image) and scale their spatial
parameters with the image size, so they mean the same on 28x28 and 32x32 inputs.

Why not a library: every maintained package on PyPI that implements these
(``imagecorruptions`` and its forks) needs OpenCV and scikit-image, the original
has been unmaintained since 2019, and its Frost needs bundled photographs. Here
Frost is procedural (ridged fractal noise), which keeps the set dependency-free;
the numbers below are this project's own and do not reproduce ImageNet-C's
pixel values, only the kind and ordering of damage.

On grayscale sources (made 3-channel) Saturate has little to act on: grey has no
hue (taken as red), so severities 1-3 leave the image unchanged and 4-5 give it a
faint red tint. It stays a distinct bias value, but a weaker one than on colour data.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from rest.data.generators.color_space import hsv_to_rgb, rgb_to_hsv
from rest.registry import Registry

Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

CORRUPTIONS: Registry[Corruption] = Registry("corruption")

# LfF's "Type0" order: the bias value of a corrupted image is its index here.
TYPE0 = (
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "spatter",
    "elastic",
    "jpeg",
    "pixelate",
    "saturate",
)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _luma(x: np.ndarray) -> np.ndarray:
    return x @ np.array([0.299, 0.587, 0.114], dtype=x.dtype)


def _upsample(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear upsampling of ``(N, gh, gw)`` grids to ``(N, h, w)``, corners aligned."""
    _, gh, gw = grid.shape
    ys, xs = np.linspace(0, gh - 1, h), np.linspace(0, gw - 1, w)
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, gh - 1), np.minimum(x0 + 1, gw - 1)
    fy, fx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    top = grid[:, y0][:, :, x0] * (1 - fx) + grid[:, y0][:, :, x1] * fx
    bottom = grid[:, y1][:, :, x0] * (1 - fx) + grid[:, y1][:, :, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def fractal_noise(rng: np.random.Generator, n: int, h: int, w: int, decay: float) -> np.ndarray:
    """Multi-octave value noise ``(N, h, w)`` rescaled to [0, 1] per image.

    Octave ``k`` is a random ``(2^k + 1)``-point grid upsampled to the image, with
    amplitude ``decay^k``: a small ``decay`` gives smooth clouds, a large one grain.
    """
    total = np.zeros((n, h, w), dtype=np.float32)
    cells, amplitude = 2, 1.0
    while cells <= max(h, w):
        total += amplitude * _upsample(rng.random((n, cells + 1, cells + 1)), h, w)
        cells, amplitude = cells * 2, amplitude * decay
    low = total.min(axis=(1, 2), keepdims=True)
    span = np.maximum(total.max(axis=(1, 2), keepdims=True) - low, 1e-6)
    return (total - low) / span


# Flake density, streak length (fraction of the image size), share of the image kept.
_SNOW = {
    1: (0.02, 0.10, 0.90),
    2: (0.03, 0.14, 0.80),
    3: (0.04, 0.18, 0.75),
    4: (0.05, 0.22, 0.70),
    5: (0.07, 0.26, 0.65),
}


@CORRUPTIONS.register("snow")
def snow(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Falling flakes streaked along a random downward direction, over a whitened scene."""
    density, length, keep = _SNOW[severity]
    n, h, w, _ = x.shape
    flakes = (rng.random((n, h, w)) < density) * rng.uniform(0.6, 1.0, (n, h, w))
    angle = rng.uniform(np.pi / 4, 3 * np.pi / 4, size=n)
    dy, dx = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    index, rows, cols = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
    steps = max(2, round(length * h))
    streaks = np.zeros((n, h, w), dtype=np.float32)
    for k in range(steps):
        coords = np.stack([index, rows - k * dy, cols - k * dx])
        shifted = ndimage.map_coordinates(flakes, coords, order=1, mode="constant")
        streaks = np.maximum(streaks, shifted * (1.0 - 0.5 * k / steps))
    haze = np.maximum(x, _luma(x)[..., None] * 1.5 + 0.5)
    return np.clip(keep * x + (1 - keep) * haze + streaks[..., None], 0.0, 1.0)


# Share of the image kept, weight of the frost layer.
_FROST = {1: (1.0, 0.35), 2: (0.85, 0.5), 3: (0.75, 0.6), 4: (0.7, 0.65), 5: (0.6, 0.75)}
_ICE = np.array([0.85, 0.92, 1.0], dtype=np.float32)


@CORRUPTIONS.register("frost")
def frost(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Blend with a procedural ice layer: thin bright veins along fractal-noise ridges."""
    keep, weight = _FROST[severity]
    n, h, w, _ = x.shape
    ridges = 1.0 - np.abs(2.0 * fractal_noise(rng, n, h, w, decay=0.7) - 1.0)
    ice = np.clip(ridges**4 * 0.85 + 0.15 * rng.random((n, h, w)), 0.0, 1.0)
    return np.clip(keep * x + weight * ice[..., None] * _ICE, 0.0, 1.0)


# Fog strength, octave decay (smaller = smoother fog).
_FOG = {1: (0.6, 0.65), 2: (0.9, 0.6), 3: (1.2, 0.55), 4: (1.5, 0.5), 5: (1.9, 0.45)}


@CORRUPTIONS.register("fog")
def fog(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Add smooth fractal haze, then rescale so the brightest pixel keeps its value."""
    strength, decay = _FOG[severity]
    n, h, w, _ = x.shape
    haze = fractal_noise(rng, n, h, w, decay)[..., None]
    peak = x.max(axis=(1, 2, 3), keepdims=True)
    return np.clip((x + strength * haze) * peak / (peak + strength), 0.0, 1.0)


_BRIGHTNESS = {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.4, 5: 0.5}


@CORRUPTIONS.register("brightness")
def brightness(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Raise the HSV value channel by a fixed amount."""
    hsv = rgb_to_hsv(x)
    hsv[..., 2] = np.clip(hsv[..., 2] + _BRIGHTNESS[severity], 0.0, 1.0)
    return np.clip(hsv_to_rgb(hsv), 0.0, 1.0)


_CONTRAST = {1: 0.5, 2: 0.4, 3: 0.3, 4: 0.2, 5: 0.1}


@CORRUPTIONS.register("contrast")
def contrast(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Pull every pixel towards the image mean."""
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return np.clip((x - mean) * _CONTRAST[severity] + mean, 0.0, 1.0)


# Blob size (fraction of the image size), threshold in std units, opacity, liquid colour.
_WATER = np.array([0.25, 0.4, 0.6], dtype=np.float32)
_MUD = np.array([0.38, 0.25, 0.14], dtype=np.float32)
_SPATTER = {
    1: (0.04, 1.6, 0.5, _WATER),
    2: (0.04, 1.4, 0.55, _WATER),
    3: (0.05, 1.2, 0.6, _WATER),
    4: (0.05, 1.1, 0.85, _MUD),
    5: (0.06, 0.9, 0.9, _MUD),
}


@CORRUPTIONS.register("spatter")
def spatter(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Splashes of water (severity 1-3) or mud (4-5): blobs of smoothed noise over a threshold."""
    size, threshold, opacity, colour = _SPATTER[severity]
    n, h, w, _ = x.shape
    sigma = max(0.5, size * h)
    liquid = ndimage.gaussian_filter(rng.normal(size=(n, h, w)), sigma=(0, sigma, sigma))
    liquid /= np.maximum(liquid.std(axis=(1, 2), keepdims=True), 1e-6)
    mask = (np.clip((liquid - threshold) * 4.0, 0.0, 1.0) * opacity)[..., None]
    return np.clip(x * (1 - mask) + mask * colour, 0.0, 1.0)


# Largest displacement and smoothness, both as fractions of the image size.
_ELASTIC = {1: (0.04, 0.08), 2: (0.06, 0.08), 3: (0.08, 0.07), 4: (0.10, 0.06), 5: (0.12, 0.05)}


@CORRUPTIONS.register("elastic")
def elastic(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Warp the image along a smooth random displacement field."""
    amplitude, smoothness = _ELASTIC[severity]
    n, h, w, channels = x.shape
    sigma = smoothness * h
    fields = []
    for _ in range(2):
        field = ndimage.gaussian_filter(rng.uniform(-1, 1, (n, h, w)), sigma=(0, sigma, sigma))
        field /= np.maximum(np.abs(field).max(axis=(1, 2), keepdims=True), 1e-6)
        fields.append(field * amplitude * h)
    index, rows, cols = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([index, rows + fields[0], cols + fields[1]])
    out = np.empty_like(x)
    for c in range(channels):
        out[..., c] = ndimage.map_coordinates(x[..., c], coords, order=1, mode="reflect")
    return np.clip(out, 0.0, 1.0)


_JPEG_QUALITY = {1: 30, 2: 20, 3: 15, 4: 10, 5: 6}


@CORRUPTIONS.register("jpeg")
def jpeg(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Round-trip through JPEG at a low quality."""
    out = np.empty_like(x)
    for i, image in enumerate(_to_uint8(x)):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=_JPEG_QUALITY[severity])
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out[i] = np.asarray(decoded.convert("RGB"), dtype=np.float32) / 255.0
    return out


_PIXELATE = {1: 0.75, 2: 0.6, 3: 0.5, 4: 0.4, 5: 0.3}


@CORRUPTIONS.register("pixelate")
def pixelate(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Box-downsample, then upsample with nearest neighbours: visible blocks."""
    _, h, w, _ = x.shape
    small = (max(1, round(w * _PIXELATE[severity])), max(1, round(h * _PIXELATE[severity])))
    out = np.empty_like(x)
    for i, image in enumerate(_to_uint8(x)):
        blocky = Image.fromarray(image).resize(small, Image.BOX)
        blocky = blocky.resize((w, h), Image.NEAREST)
        out[i] = np.asarray(blocky, dtype=np.float32) / 255.0
    return out


# Saturation scale and shift: severities 1-2 wash colours out, 3-5 oversaturate.
_SATURATE = {1: (0.4, 0.0), 2: (0.15, 0.0), 3: (2.5, 0.0), 4: (5.0, 0.1), 5: (15.0, 0.2)}


@CORRUPTIONS.register("saturate")
def saturate(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Scale and shift the HSV saturation channel."""
    scale, shift = _SATURATE[severity]
    hsv = rgb_to_hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * scale + shift, 0.0, 1.0)
    return np.clip(hsv_to_rgb(hsv), 0.0, 1.0)
