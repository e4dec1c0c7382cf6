"""FLOPs from PyTorch's counter at the real input size, scaled by layer density."""

from __future__ import annotations

import pytest
import torch
from sparse_testing import tiny_net
from torch import nn

from rest.models import build_model
from rest.sparse import SparseConfig, SparseTraining, inference_flops, training_flops

# tiny_net by hand, FLOPs = 2 x multiply-accumulates, biases not counted (as PyTorch does):
# input 2x8x8:   conv1 -> 4x6x6: 4*36 outputs * (2*3*3) MACs = 2592 MACs = 5184 FLOPs
#                conv2 -> 8x4x4: 8*16 outputs * (4*3*3) MACs = 4608 MACs = 9216 FLOPs
#                linear 8 -> 3: 24 MACs = 48 FLOPs                  total 14448 FLOPs
# input 2x10x10: conv1 -> 4x8x8: 4*64*18 = 4608 MACs = 9216; conv2 -> 8x6x6: 8*36*36 =
#                10368 MACs = 20736; linear 48                      total 30000 FLOPs
TINY_PER_LAYER = {"0.weight": 5184, "2.weight": 9216, "6.weight": 48}


def test_dense_count_of_a_tiny_net_matches_hand_computation():
    flops = inference_flops(tiny_net(), (2, 8, 8))
    assert flops["dense"] == flops["sparse"] == 14448
    assert flops["ratio"] == 1.0
    assert {n: layer["dense"] for n, layer in flops["per_layer"].items()} == TINY_PER_LAYER
    assert inference_flops(tiny_net(), (2, 10, 10))["dense"] == 30000


def test_published_cnn_at_its_real_28x28_input():
    # conv 4x4 s2 p1: 3->64 at 14x14: 64*196*48 = 602112 MACs; 64->128 at 7x7:
    # 128*49*1024 = 6422528; 128->256 at 3x3: 256*9*2048 = 4718592; linear 2560.
    # Sum 11745792 MACs = 23491584 FLOPs.
    model = build_model("cnn", 10, (3, 28, 28))
    assert inference_flops(model, (3, 28, 28))["dense"] == 23491584


@pytest.mark.parametrize("density", [0.5, 0.25, 0.1])
def test_sparse_count_scales_with_layer_density(density):
    model = tiny_net()
    config = SparseConfig(density=density, distribution="uniform", strategy="static")
    sparse = SparseTraining(model, config, total_steps=10, seed=0)
    flops = inference_flops(model, (2, 8, 8), sparse.masks)
    expected = 0.0
    for name, dense in TINY_PER_LAYER.items():
        layer_density = sparse.masks[name].float().mean().item()
        assert flops["per_layer"][name]["density"] == pytest.approx(layer_density)
        expected += dense * layer_density
    assert flops["sparse"] == pytest.approx(expected)
    assert flops["ratio"] == pytest.approx(density, abs=0.01)


class GramNet(nn.Module):
    """A conv followed by a parameter-free batched matmul the masks cannot thin."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)

    def forward(self, x):
        h = self.conv(x).flatten(2)  # 1 x 4 x 36
        return torch.bmm(h, h.transpose(1, 2)).flatten(1)


def test_unmasked_operations_are_counted_dense():
    model = GramNet()
    masks = {"conv.weight": torch.arange(72).view(4, 2, 3, 3) % 4 == 0}  # 18 of 72 kept
    flops = inference_flops(model, (2, 8, 8), masks)
    gram = 2 * 4 * 4 * 36
    assert flops["dense"] == 5184 + gram
    assert flops["sparse"] == pytest.approx(5184 * 0.25 + gram)


def test_training_flops_follow_the_rigl_accounting():
    model = tiny_net()
    masks = {"2.weight": torch.arange(288).view(8, 4, 3, 3) % 2 == 0}  # conv2 at density 0.5
    sparse_forward = 14448 - 9216 * 0.5
    flops = training_flops(model, (2, 8, 8), masks, steps=10, batch_size=4)
    assert flops["dense"] == 3 * 14448 * 40
    assert flops["sparse"] == pytest.approx(3 * sparse_forward * 40)
    with_updates = training_flops(
        model, (2, 8, 8), masks, steps=10, batch_size=4, dense_gradient_updates=2
    )
    # an update step's backward computes the dense weight gradient: +(dense - sparse) each
    extra = (14448 - sparse_forward) * 4 * 2
    assert with_updates["sparse"] == pytest.approx(flops["sparse"] + extra)
    assert with_updates["ratio"] == pytest.approx(with_updates["sparse"] / flops["dense"])


def test_counting_leaves_the_model_as_it_was():
    model = tiny_net().train()
    inference_flops(model, (2, 8, 8))
    assert model.training
    assert not any(module._forward_hooks for module in model.modules())
