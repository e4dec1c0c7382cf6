"""SNIP and GraSP masks: requested per-layer counts, scores on log-probabilities."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
import torch.nn.functional as F
from sparse_testing import batch, small_model, tiny_net
from torch import nn
from torch.func import functional_call, grad, jvp

from rest.build import build_training
from rest.resolve import resolve
from rest.sparse import STATIC_SCORES, SparseConfig, SparseTraining, maskable_parameters
from rest.sparse.masking import top_mask
from rest.sparse.scores import GRASP_TEMPERATURE, on_pairs

from training_testing import tiny_config

# torch's forward-mode AD (used for the independent GraSP check) loads decompositions
# through the deprecated torch.jit.script on first use.
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")


def cross_entropy_by_hand(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log softmax(z)_y, written out: logsumexp(z) - z_y."""
    return (torch.logsumexp(logits, 1) - logits.gather(1, targets[:, None]).squeeze(1)).mean()


def nll_on_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The published code's bug: nll_loss on raw logits, i.e. -z_y."""
    return F.nll_loss(logits, targets)


def tiny_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(6, 2, 8, 8, generator=generator),
            torch.randint(0, 3, (6,), generator=generator),
        )
        for _ in range(2)
    ]


def snip_by_hand(model: nn.Module, batches, loss) -> dict[str, torch.Tensor]:
    weights = maskable_parameters(model)
    total = {name: torch.zeros_like(w) for name, w in weights.items()}
    for inputs, targets in batches:
        model.zero_grad()
        loss(model(inputs), targets).backward()
        for name, w in weights.items():
            total[name] += w.grad
    return {name: (w.detach() * total[name]).abs() for name, w in weights.items()}


def grasp_by_hand(model: nn.Module, batches, loss) -> dict[str, torch.Tensor]:
    """w * Hg with H and g of the summed loss, via forward-over-reverse autodiff."""
    weights = {name: w.detach() for name, w in maskable_parameters(model).items()}
    others = {n: p.detach() for n, p in model.named_parameters() if n not in weights}

    def total_loss(w):
        return sum(
            loss(functional_call(model, {**others, **w}, (x,)) / GRASP_TEMPERATURE, y)
            for x, y in batches
        )

    g = grad(total_loss)(weights)
    _, hg = jvp(grad(total_loss), (weights,), (g,))
    return {name: weights[name] * hg[name] for name in weights}


def assert_scores_close(got, expected):
    for name in expected:
        scale = expected[name].abs().max()
        torch.testing.assert_close(got[name], expected[name], atol=1e-5 * scale, rtol=1e-4)


def assert_scores_differ(got, expected):
    assert any(not torch.allclose(got[n], expected[n], rtol=1e-2) for n in expected)


@pytest.mark.parametrize(("name", "by_hand"), [("snip", snip_by_hand), ("grasp", grasp_by_hand)])
def test_scores_use_log_probabilities(name, by_hand):
    model = tiny_net()
    batches = tiny_batches()
    objective = on_pairs(F.cross_entropy, torch.device("cpu"))
    got = STATIC_SCORES.get(name).score(model, maskable_parameters(model), batches, objective)
    assert_scores_close(got, by_hand(copy.deepcopy(model), batches, cross_entropy_by_hand))
    # the test would catch the published bug: raw logits into nll_loss score differently
    assert_scores_differ(got, by_hand(copy.deepcopy(model), batches, nll_on_logits))


@pytest.mark.parametrize(("name", "by_hand"), [("snip", snip_by_hand), ("grasp", grasp_by_hand)])
def test_masks_keep_top_scores_of_the_dense_init_with_default_loss(name, by_hand):
    model = tiny_net()
    dense = copy.deepcopy(model)
    batches = tiny_batches()
    sparse = SparseTraining(model, SparseConfig(density=0.25, strategy=name), 10, seed=0)
    sparse.initialize_from_data(iter(batches))  # default loss: cross-entropy on logits
    expected = by_hand(dense, batches, cross_entropy_by_hand)
    for layer, mask in sparse.masks.items():
        assert torch.equal(mask, top_mask(expected[layer], int(mask.sum()))), layer
        # kept weights keep their initial values, the rest are zero
        kept = dict(dense.named_parameters())[layer].detach() * mask
        assert torch.equal(dict(model.named_parameters())[layer].detach(), kept)


@pytest.mark.parametrize("strategy", ["snip", "grasp"])
@pytest.mark.parametrize("model_name", ["cnn", "resnet18"])
def test_requested_per_layer_counts(strategy, model_name):
    model = small_model(model_name)
    buffers = copy.deepcopy(dict(model.named_buffers()))
    reference = SparseTraining(small_model(model_name), SparseConfig(strategy="static"), 10, 0)
    sparse = SparseTraining(model, SparseConfig(strategy=strategy), total_steps=10, seed=0)
    random_masks = {name: mask.clone() for name, mask in sparse.masks.items()}
    batches = [batch(model_name, seed=s) for s in range(3)]
    sparse.initialize_from_data(batches, on_pairs(F.cross_entropy, torch.device("cpu")))
    assert set(sparse.masks) == set(reference.masks)
    for name, mask in sparse.masks.items():
        assert int(mask.sum()) == int(reference.masks[name].sum()), name
    assert not all(torch.equal(random_masks[n], sparse.masks[n]) for n in random_masks)
    assert sparse.exploration_rate() == pytest.approx(sparse.stats()["density"])
    # scoring leaves BatchNorm running statistics untouched
    for name, value in model.named_buffers():
        assert torch.equal(value, buffers[name]), name


def test_only_the_first_batches_are_scored():
    model = tiny_net()
    sparse = SparseTraining(model, SparseConfig(density=0.25, strategy="snip"), 10, seed=0)
    consumed = []

    def endless():
        while True:
            consumed.append(1)
            yield tiny_batches()[0]

    sparse.initialize_from_data(endless(), max_batches=3)
    assert len(consumed) == 3


def test_scoring_passes_are_counted_and_survive_a_resume():
    batches = tiny_batches()  # 2 batches of 6
    expected = {"snip": (12, 12), "grasp": (24, 36), "static": (0, 0)}
    for strategy, (forward, backward) in expected.items():
        sparse = SparseTraining(tiny_net(), SparseConfig(density=0.25, strategy=strategy), 10, 0)
        sparse.initialize_from_data(batches)
        stats = sparse.stats()
        assert stats["scoring_forward_samples"] == forward, strategy
        assert stats["scoring_backward_samples"] == backward, strategy
        resumed = SparseTraining(tiny_net(), SparseConfig(density=0.25, strategy=strategy), 10, 0)
        resumed.load_state_dict(sparse.state_dict())
        assert resumed.stats()["scoring_forward_samples"] == forward, strategy


def weighted_cross_entropy_by_hand(logits, targets, weights):
    losses = torch.logsumexp(logits, 1) - logits.gather(1, targets[:, None]).squeeze(1)
    return (weights * losses).sum() / weights.sum()


def test_snip_scores_the_weighted_loss_of_reweight_by_loss(monkeypatch, tiny_splits):
    """REST with --reweight-by loss: the SNIP mask is the top of |w * dL/dw| for the
    *weighted* cross-entropy the run trains with, not for the plain one."""
    seen = {}
    original = SparseTraining.initialize_from_data

    def recording(self, batches, objective=None, max_batches=4):
        seen["batches"] = list(itertools.islice(batches, max_batches))
        seen["dense"] = {name: w.clone() for name, w in self._dense_init.items()}
        original(self, seen["batches"], objective, max_batches)

    monkeypatch.setattr(SparseTraining, "initialize_from_data", recording)
    config = tiny_config(
        "rest",
        sparse={"density": 0.2, "strategy": "snip"},
        reweight={"reweight_by": "loss", "lambda_up": 80.0},
    )
    training = build_training(resolve(config, tiny_splits), tiny_splits, torch.device("cpu"))
    weights = training.method.weights
    model = copy.deepcopy(training.model)
    model.load_state_dict(training.model.state_dict() | seen["dense"])  # the dense init

    def snip_masks(loss) -> dict[str, torch.Tensor]:
        params = maskable_parameters(model)
        total = {name: torch.zeros_like(p) for name, p in params.items()}
        for b in seen["batches"]:
            model.zero_grad()
            loss(model(b.images), b).backward()
            for name, p in params.items():
                total[name] += p.grad
        return {
            name: top_mask((params[name].detach() * total[name]).abs(), int(mask.sum()))
            for name, mask in training.sparse.masks.items()
        }

    weighted = snip_masks(
        lambda z, b: weighted_cross_entropy_by_hand(z, b.targets, weights[b.indices])
    )
    plain = snip_masks(lambda z, b: cross_entropy_by_hand(z, b.targets))
    for name, mask in training.sparse.masks.items():
        assert torch.equal(mask, weighted[name]), name
    assert any(not torch.equal(mask, plain[name]) for name, mask in training.sparse.masks.items())
    assert training.sparse.stats()["scoring_forward_samples"] == 256  # 4 batches of 64
