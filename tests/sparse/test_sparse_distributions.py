"""Layer densities (uniform, ER, ERK) and integer per-layer counts."""

from __future__ import annotations

import math

import pytest
from sparse_testing import MODELS, small_model, tiny_net

from rest.sparse import (
    SparseConfig,
    SparseTraining,
    layer_counts,
    layer_densities,
    maskable_parameters,
)

# tiny_net's weights: conv1 (4, 2, 3, 3) = 72, conv2 (8, 4, 3, 3) = 288, linear (3, 8) = 24;
# 384 maskable weights.
TINY_SHAPES = [(4, 2, 3, 3), (8, 4, 3, 3), (3, 8)]
TINY_SIZES = [72, 288, 24]

# Worked by hand. ERK raw scores (sum of dims / product of dims):
#   conv1 12/72 = 1/6, conv2 18/288 = 1/16, linear 11/24; raw * size = 12, 18, 11 (sum 41).
# d = 0.1:  budget 38.4, scale 38.4/41; densities 32/205, 12/205, 88/205 (all <= 1).
#           ideal counts 11.24, 16.86, 10.30 -> floors 11+16+10 = 37, round(38.4) = 38, the
#           missing weight goes to the largest remainder (conv2): 11, 17, 10.
# d = 0.25: budget 96, scale 96/41 makes linear 1.07 > 1 -> dense (24); the rest share 72
#           over 12 + 18 = 30 -> scale 2.4: conv1 0.4, conv2 0.15 (28.8, 43.2 weights);
#           floors 28+43+24 = 95, missing 1 -> conv1: 29, 43, 24.
# d = 0.5:  linear dense; 168 over 30 -> scale 5.6: conv1 5.6/6 = 0.9333, conv2 0.35
#           (67.2, 100.8); floors 191, missing 1 -> conv2: 67, 101, 24.
# d = 0.8:  linear dense; 283.2/30 = 9.44 makes conv1 1.57 -> dense too; 211.2 over 18 ->
#           conv2 211.2/288 = 0.7333; floors 72+211+24 = 307 = round(307.2): 72, 211, 24.
ERK_TABLE = [
    (0.1, [32 / 205, 12 / 205, 88 / 205], [11, 17, 10]),
    (0.25, [0.4, 0.15, 1.0], [29, 43, 24]),
    (0.5, [5.6 / 6, 0.35, 1.0], [67, 101, 24]),
    (0.8, [1.0, 211.2 / 288, 1.0], [72, 211, 24]),
]


@pytest.mark.parametrize(("density", "densities", "counts"), ERK_TABLE)
def test_erk_matches_hand_computed_table(density, densities, counts):
    got = layer_densities("erk", TINY_SHAPES, density)
    assert got == pytest.approx(densities, rel=1e-12)
    assert layer_counts(got, TINY_SIZES, density) == counts


def test_erk_with_dense_first_layer():
    # conv1 forced dense (72); conv2 and linear share 96 - 72 = 24 over 18 + 11 = 29:
    # scale 24/29 -> conv2 1.5/29 (14.90 weights), linear 11/29 (9.10); floors 72+14+9 = 95,
    # missing 1 -> conv2: 72, 15, 9.
    got = layer_densities("erk", TINY_SHAPES, 0.25, dense={0})
    assert got == pytest.approx([1.0, 1.5 / 29, 11 / 29], rel=1e-12)
    assert layer_counts(got, TINY_SIZES, 0.25) == [72, 15, 9]


def test_er_ignores_kernel_size():
    # ER raw: conv1 (4+2)/8 = 0.75, conv2 (8+4)/32 = 0.375, linear 11/24; raw * size = 54,
    # 108, 11 (sum 173); d = 0.25: scale 96/173 -> ideal 29.97, 59.93, 6.10 -> 30, 60, 6.
    got = layer_densities("er", TINY_SHAPES, 0.25)
    assert got == pytest.approx([0.75 * 96 / 173, 0.375 * 96 / 173, 11 / 24 * 96 / 173])
    assert layer_counts(got, TINY_SIZES, 0.25) == [30, 60, 6]


def test_uniform():
    assert layer_densities("uniform", TINY_SHAPES, 0.25) == [0.25, 0.25, 0.25]
    assert layer_counts([0.25] * 3, TINY_SIZES, 0.25) == [18, 72, 6]


def test_density_one_is_dense_everywhere():
    for name in ("uniform", "er", "erk"):
        assert layer_densities(name, TINY_SHAPES, 1.0) == [1.0, 1.0, 1.0]


def test_tiny_net_masks_follow_the_table():
    sparse = SparseTraining(tiny_net(), SparseConfig(density=0.1), total_steps=10, seed=0)
    assert [int(m.sum()) for m in sparse.masks.values()] == [11, 17, 10]


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("distribution", ["uniform", "er", "erk"])
def test_global_density_within_one_weight_per_layer(model_name, distribution):
    model = small_model(model_name)
    weights = maskable_parameters(model)
    total = sum(w.numel() for w in weights.values())
    for density in (0.005, 0.05, 0.1, 0.3, 0.9):
        config = SparseConfig(density=density, distribution=distribution)
        sparse = SparseTraining(model, config, total_steps=10, seed=0)
        stats = sparse.stats()
        active = stats["active_maskable"]
        assert abs(active - density * total) <= len(weights), (density, active)
        assert stats["density"] == active / total
        wanted = layer_densities(distribution, [w.shape for w in weights.values()], density)
        for (name, weight), share in zip(weights.items(), wanted, strict=True):
            count = int(sparse.masks[name].sum()) if name in sparse.masks else weight.numel()
            assert abs(count - share * weight.numel()) < 1 or count == 1
            assert stats["per_layer"][name] == count / weight.numel()
        assert all(math.isclose(d, 1.0) or d < 1 for d in stats["per_layer"].values())


def test_resnet18_structure():
    model = small_model("resnet18")
    names = list(maskable_parameters(model))
    # stem + 16 block convs + 3 projection shortcuts + classifier
    assert len(names) == 21
    assert names[0] == "features.0.weight" and names[-1] == "classifier.weight"
    assert sum("shortcut" in n for n in names) == 3
    assert not any("bn" in n or n.endswith("bias") for n in names)
    sparse = SparseTraining(model, SparseConfig(density=0.05), total_steps=10, seed=0)
    per_layer = sparse.stats()["per_layer"]
    # ERK gives the thin stem and classifier more density than the wide 3x3 convs.
    assert per_layer["features.0.weight"] > per_layer["features.10.conv2.weight"]
    assert per_layer["classifier.weight"] > per_layer["features.10.conv2.weight"]


def test_dense_first_and_last_layer_options():
    model = small_model("cnn")
    config = SparseConfig(density=0.2, dense_first_layer=True, dense_last_layer=True)
    sparse = SparseTraining(model, config, total_steps=10, seed=0)
    names = list(maskable_parameters(model))
    assert names[0] not in sparse.masks and names[-1] not in sparse.masks
    stats = sparse.stats()
    assert stats["per_layer"][names[0]] == stats["per_layer"][names[-1]] == 1.0
    assert abs(stats["active_maskable"] - 0.2 * stats["maskable_params"]) <= len(names)
