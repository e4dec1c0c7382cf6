"""The sparse-training engine: invariants after every step, where grown and regrown
weights start, dense at density 1, and resuming from the saved state."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from sparse_testing import MODELS, batch, make_optimizer, sparse_setup, train_step, update_now
from torch import nn

from rest.precision import autocast
from rest.sparse import SparseConfig, SparseTraining

# Precisions this machine runs the models here in (CPU tensors: fp16 needs CUDA).
CPU_PRECISIONS = ("fp32", "bf16")


def per_weight_state(optimizer: torch.optim.Optimizer, param: nn.Parameter) -> list[torch.Tensor]:
    return [
        v
        for v in optimizer.state.get(param, {}).values()
        if isinstance(v, torch.Tensor) and v.shape == param.shape
    ]


def check_invariants(sparse, optimizer, counts: dict[str, int]) -> None:
    params = dict(sparse.model.named_parameters())
    for name, mask in sparse.masks.items():
        weight = params[name]
        assert mask.dtype == torch.bool and mask.device == weight.device
        assert weight.dtype == torch.float32, name  # mixed precision keeps weights fp32
        assert int(mask.sum()) == counts[name], name
        outside = weight.detach()[~mask]
        assert torch.equal(outside, torch.zeros_like(outside)), name
        # +0.0, not -0.0: a compact checkpoint restores these bit-exactly
        assert not torch.signbit(outside).any(), name
        for state in per_weight_state(optimizer, weight):
            assert torch.count_nonzero(state[~mask]) == 0, name


@pytest.mark.parametrize("precision", CPU_PRECISIONS)
@pytest.mark.parametrize("optimizer_name", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("strategy", ["rigl", "set"])
@pytest.mark.parametrize("model_name", list(MODELS))
def test_invariants_after_every_step(model_name, strategy, optimizer_name, precision):
    """Published order: after a whole update step, the grown weights are exactly zero
    with zero optimizer state; at every step the density is exact and the rest zero."""
    model, sparse, optimizer = sparse_setup(
        model_name,
        optimizer_name,
        total_steps=13,
        density=0.1,
        strategy=strategy,
        update_frequency=3,
        alpha_schedule="constant",
        alpha=0.3,
    )
    counts = {name: int(mask.sum()) for name, mask in sparse.masks.items()}
    assert counts
    data = batch(model_name)
    params = dict(model.named_parameters())
    for step in range(13):
        before = {name: mask.clone() for name, mask in sparse.masks.items()}
        updating = sparse.is_update_step(step)
        optimizer.zero_grad()
        with autocast(precision, torch.device("cpu")):
            loss = F.cross_entropy(model(data[0]), data[1])
        loss.backward()
        sparse.before_optimizer_step(step)
        for name, mask in sparse.masks.items():
            assert torch.equal(mask, before[name])  # the step trains on the old mask
            assert torch.count_nonzero(params[name].grad[~mask]) == 0  # masked grads
        optimizer.step()
        sparse.after_optimizer_step(step)
        check_invariants(sparse, optimizer, counts)
        for name, mask in sparse.masks.items():
            grown = mask & ~before[name]
            assert grown.any() == updating, name
            assert torch.count_nonzero(params[name].detach()[grown]) == 0, name
            for state in per_weight_state(optimizer, params[name]):
                assert torch.count_nonzero(state[grown]) == 0, name
    assert sparse.updates_done == 4 == sparse.planned_updates  # steps 3, 6, 9, 12
    assert sparse.stats()["exploration_rate"] > sparse.stats()["density"]


def test_before_step_order_lets_grown_weights_leave_the_step_at_minus_lr_g():
    """The kept variant: the update runs before the step, so a grown weight takes one
    plain SGD step from zero with its own gradient."""
    model, sparse, optimizer = sparse_setup(
        "mlp", total_steps=5, update_frequency=1, update_order="before-step", alpha=0.3
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sparse.attach(optimizer)
    data = batch("mlp")
    weight = model.features[1].weight
    before = sparse.masks["features.1.weight"].clone()
    optimizer.zero_grad()
    F.cross_entropy(model(data[0]), data[1]).backward()
    gradient = weight.grad.clone()
    sparse.before_optimizer_step(1)
    optimizer.step()
    sparse.after_optimizer_step(1)
    grown = sparse.masks["features.1.weight"] & ~before
    assert grown.any()
    assert torch.allclose(weight.detach()[grown], -0.1 * gradient[grown])
    assert torch.count_nonzero(weight.detach()[grown]) > 0


def test_regrown_just_dropped_weights_keep_their_value_and_momentum():
    """At density 0.9 with alpha 0.5, more weights are dropped than there are inactive
    positions, so some just-dropped weights must come back: as in RigL they keep their
    value and momentum (never really dropped); only newly active positions restart."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 4))
    config = SparseConfig(
        density=0.9,
        distribution="uniform",
        alpha=0.5,
        alpha_schedule="constant",
        update_frequency=2,
    )
    sparse = SparseTraining(model, config, total_steps=10, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sparse.attach(optimizer)
    data = (torch.randn(16, 20), torch.randint(0, 4, (16,)))
    weight = model[0].weight
    train_step(model, sparse, optimizer, data, 0)
    train_step(model, sparse, optimizer, data, 1)
    count = int(sparse.masks["0.weight"].sum())
    before = sparse.masks["0.weight"].clone()
    assert torch.count_nonzero(weight) == count  # every active weight moved off zero
    momentum = optimizer.state[weight]["momentum_buffer"]
    assert torch.count_nonzero(momentum) == count
    n = int(0.5 * count)
    assert n > weight.numel() - count  # so some just-dropped weights must come back
    values, momenta = weight.detach().clone(), momentum.clone()
    optimizer.zero_grad()
    F.cross_entropy(model(data[0]), data[1]).backward()
    update_now(sparse, 2)
    mask = sparse.masks["0.weight"]
    assert int(mask.sum()) == count
    new = mask & ~before
    assert new.any() and torch.count_nonzero(weight.detach()[new]) == 0
    assert torch.count_nonzero(momentum[new]) == 0
    kept = mask & before
    assert torch.equal(weight.detach()[kept], values[kept])
    assert torch.equal(momentum[kept], momenta[kept])
    assert torch.count_nonzero(momentum[~mask]) == 0


def test_density_one_trains_dense():
    model, sparse, optimizer = sparse_setup("cnn", total_steps=5, density=1.0)
    assert sparse.masks == {}
    reference = copy.deepcopy(model)
    reference_optimizer = make_optimizer("sgd", reference)
    data = batch("cnn")
    for step in range(3):
        train_step(model, sparse, optimizer, data, step)
        reference_optimizer.zero_grad()
        F.cross_entropy(reference(data[0]), data[1]).backward()
        reference_optimizer.step()
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)
    stats = sparse.stats()
    assert stats["density"] == 1.0 and stats["nonzeros"] == stats["total_params"]


@pytest.mark.parametrize("strategy", ["set", "rigl"])
def test_state_dict_resumes_exactly(strategy):
    def setup():
        return sparse_setup("cnn", total_steps=16, seed=3, strategy=strategy, update_frequency=3)

    data = batch("cnn")
    model, sparse, optimizer = setup()
    for step in range(8):
        train_step(model, sparse, optimizer, data, step)
    saved = copy.deepcopy(
        {"model": model.state_dict(), "opt": optimizer.state_dict(), "sparse": sparse.state_dict()}
    )
    for step in range(8, 16):
        train_step(model, sparse, optimizer, data, step)

    resumed, resumed_sparse, resumed_optimizer = setup()
    resumed.load_state_dict(saved["model"])
    resumed_optimizer.load_state_dict(saved["opt"])
    resumed_sparse.load_state_dict(saved["sparse"])
    for step in range(8, 16):
        train_step(resumed, resumed_sparse, resumed_optimizer, data, step)

    assert resumed_sparse.updates_done == sparse.updates_done == 5
    for name in sparse.masks:
        assert torch.equal(sparse.masks[name], resumed_sparse.masks[name])
    assert sparse.exploration_rate() == resumed_sparse.exploration_rate()
    for a, b in zip(model.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_state_dict_from_another_config_is_refused():
    from rest.errors import RestError

    _, sparse, _ = sparse_setup("cnn", density=0.1)
    _, other, _ = sparse_setup("cnn", density=0.2)
    with pytest.raises(RestError, match="does not match"):
        other.load_state_dict(sparse.state_dict())


def test_layers_without_gradient_are_left_alone():
    """A layer the loss never reached has no gradient to rank by: RigL skips it."""
    torch.manual_seed(0)
    model = nn.ModuleDict({"used": nn.Linear(8, 8), "unused": nn.Linear(8, 8)})
    config = SparseConfig(density=0.5, distribution="uniform", update_frequency=1)
    sparse = SparseTraining(model, config, total_steps=5, seed=0)
    before = sparse.masks["unused.weight"].clone()
    model["used"](torch.randn(4, 8)).sum().backward()
    update_now(sparse, 1)
    assert torch.equal(before, sparse.masks["unused.weight"])
    assert sparse.updates_done == 1
