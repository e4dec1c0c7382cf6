"""The sparse-training engine: invariants after every step, mask updates, schedule, state."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from sparse_testing import MODELS, batch, make_optimizer, sparse_setup, train_step
from torch import nn

from rest.precision import autocast
from rest.sparse import ALPHA_SCHEDULES, SparseConfig, SparseTraining, resolve_update_frequency

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


def update_now(sparse: SparseTraining, step: int) -> None:
    """A mask update at ``step`` with the current ``.grad``, no optimizer step between."""
    sparse.before_optimizer_step(step)
    sparse.after_optimizer_step(step)


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


def single_layer(strategy: str, density: float = 0.5, seed: int = 0, **config):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 10, bias=False))
    config = SparseConfig(
        density=density,
        distribution="uniform",
        strategy=strategy,
        alpha=0.4,
        alpha_schedule="constant",
        update_frequency=1,
        **config,
    )
    return model, SparseTraining(model, config, total_steps=10, seed=seed)


def test_rigl_drops_smallest_magnitudes_and_grows_largest_gradients():
    model, sparse = single_layer("rigl")
    weight = model[0].weight
    old = sparse.masks["0.weight"].clone()
    with torch.no_grad():
        weight.copy_(torch.randn(10, 10) * old)
    weight.grad = torch.randn(10, 10)
    n = int(0.4 * 50)
    magnitude = weight.detach().abs().masked_fill(~old, float("inf")).view(-1)
    dropped = torch.topk(magnitude, n, largest=False).indices
    survivors = old.view(-1).scatter(0, dropped, False)
    gradient = weight.grad.abs().view(-1).masked_fill(survivors, -1)
    expected = survivors.scatter(0, torch.topk(gradient, n).indices, True)
    update_now(sparse, 1)
    assert torch.equal(sparse.masks["0.weight"].view(-1), expected)


def dropped_with_largest_gradients(**config):
    """A RigL update where the weights about to be dropped (the smallest active ones)
    carry by far the largest gradients; returns (old mask, the dropped set, new mask)."""
    model, sparse = single_layer("rigl", density=0.3, **config)
    weight = model[0].weight
    old = sparse.masks["0.weight"].clone()
    with torch.no_grad():
        weight.copy_((torch.rand(10, 10) + 1.0) * old)
    n = int(0.4 * 30)
    smallest = torch.topk(weight.detach().masked_fill(~old, 9.0).view(-1), n, largest=False)
    dropped = torch.zeros(100, dtype=torch.bool).scatter(0, smallest.indices, True)
    weight.grad = torch.rand(10, 10) + 100.0 * dropped.view(10, 10)
    update_now(sparse, 1)
    return old, dropped.view(10, 10), sparse.masks["0.weight"]


def test_published_ranking_regrows_a_just_dropped_weight_with_a_large_gradient():
    old, dropped, new = dropped_with_largest_gradients()
    assert int(dropped.sum()) == 12
    assert torch.equal(new, old)  # every dropped weight won its place straight back


def test_avoid_dropped_ranking_keeps_just_dropped_weights_out_when_avoidable():
    old, dropped, new = dropped_with_largest_gradients(regrow_dropped=False)
    assert not (new & dropped).any()
    assert int((new & ~old).sum()) == int(dropped.sum()) == 12


@pytest.mark.parametrize("strategy", ["rigl", "set"])
def test_same_seed_same_masks_other_seed_other_masks(strategy):
    def run(seed: int) -> dict[str, torch.Tensor]:
        model, sparse, optimizer = sparse_setup(
            "cnn", total_steps=9, seed=seed, strategy=strategy, update_frequency=2
        )
        data = batch("cnn")
        for step in range(9):
            train_step(model, sparse, optimizer, data, step)
        return {name: mask.clone() for name, mask in sparse.masks.items()}

    first, again, other = run(1), run(1), run(2)
    assert all(torch.equal(first[n], again[n]) for n in first)
    assert not all(torch.equal(first[n], other[n]) for n in first)


def test_exploration_rate_grows_with_updates():
    model, sparse, optimizer = sparse_setup(
        "mlp", total_steps=20, strategy="set", update_frequency=2, density=0.05
    )
    data = batch("mlp")
    rates = [sparse.exploration_rate()]
    assert rates[0] == pytest.approx(sparse.stats()["density"])
    for step in range(20):
        train_step(model, sparse, optimizer, data, step)
        rates.append(sparse.exploration_rate())
    assert all(b >= a for a, b in itertools.pairwise(rates))
    assert rates[-1] > 2 * rates[0]
    assert sparse.updates_done == 9


def test_static_masks_never_move():
    model, sparse, optimizer = sparse_setup("cnn", total_steps=8, strategy="static")
    initial = {name: mask.clone() for name, mask in sparse.masks.items()}
    data = batch("cnn")
    for step in range(8):
        train_step(model, sparse, optimizer, data, step)
    assert all(torch.equal(initial[n], sparse.masks[n]) for n in initial)
    stats = sparse.stats()
    assert stats["updates_done"] == 0 and stats["planned_updates"] == 0
    assert stats["exploration_rate"] == stats["density"]


def test_automatic_update_frequency_follows_run_length():
    assert resolve_update_frequency(SparseConfig(), 3000) == 100
    assert resolve_update_frequency(SparseConfig(stop_fraction=0.5), 3000) == 50
    assert resolve_update_frequency(SparseConfig(target_updates=50), 2800) == 56
    assert resolve_update_frequency(SparseConfig(), 10) == 1
    assert resolve_update_frequency(SparseConfig(update_frequency=1000), 2800) == 1000
    _, sparse, _ = sparse_setup("mlp", total_steps=3000)
    stats = sparse.stats()
    assert stats["update_frequency"] == 100 and stats["planned_updates"] == 29


def test_stop_fraction_freezes_the_mask():
    model, sparse, optimizer = sparse_setup(
        "mlp", total_steps=20, strategy="set", target_updates=4, stop_fraction=0.5
    )
    assert sparse.update_frequency == 2
    updates = [step for step in range(20) if sparse.is_update_step(step)]
    assert updates == [2, 4, 6, 8]
    data = batch("mlp")
    for step in range(20):
        train_step(model, sparse, optimizer, data, step)
    assert sparse.updates_done == 4 == sparse.planned_updates


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("cosine", [0.5, 0.25, 0.0]),
        ("linear", [0.5, 0.25, 0.0]),
        ("constant", [0.5, 0.5, 0.5]),
    ],
)
def test_alpha_schedules(name, values):
    schedule = ALPHA_SCHEDULES.get(name)
    assert [schedule(0.5, step, 100) for step in (0, 50, 100)] == pytest.approx(values)
    if name == "cosine":
        assert schedule(0.5, 25, 100) == pytest.approx(0.25 * (1 + 2**-0.5))


def test_replaced_count_follows_the_cosine_schedule():
    # just-dropped weights kept out of the regrowth, so every replaced weight is a new one
    model, sparse, optimizer = sparse_setup(
        "mlp",
        total_steps=40,
        strategy="set",
        update_frequency=10,
        density=0.2,
        regrow_dropped=False,
    )
    data = batch("mlp")
    name = "features.1.weight"
    count = int(sparse.masks[name].sum())
    for step in range(40):
        before = sparse.masks[name].clone()
        train_step(model, sparse, optimizer, data, step)
        if step in (10, 20, 30):
            alpha = ALPHA_SCHEDULES.get("cosine")(0.5, step, 40)
            assert int((sparse.masks[name] & ~before).sum()) == int(alpha * count)


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
