"""The engine on a GPU: masks on the weights' device, no host syncs in the step path.

Skipped without CUDA; run on a GPU machine with ``pytest tests/sparse``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sparse_testing import MODELS, batch, make_optimizer, small_model, tiny_net

from rest.sparse import (
    SparseConfig,
    SparseTraining,
    inference_flops,
    load_compact,
    save_compact,
)

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.filterwarnings("ignore:Synchronization debug mode is a prototype"),
]
CUDA = torch.device("cuda")


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
@pytest.mark.parametrize("strategy", ["rigl", "set"])
@pytest.mark.parametrize("model_name", list(MODELS))
def test_steps_on_gpu_keep_invariants_without_host_syncs(model_name, strategy, optimizer_name):
    model = small_model(model_name).to(CUDA)
    config = SparseConfig(density=0.1, strategy=strategy, update_frequency=2)
    sparse = SparseTraining(model, config, total_steps=9, seed=0)
    optimizer = make_optimizer(optimizer_name, model)
    sparse.attach(optimizer)
    counts = {name: int(mask.sum()) for name, mask in sparse.masks.items()}
    inputs, targets = (t.to(CUDA) for t in batch(model_name))
    for step in range(9):
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        torch.cuda.set_sync_debug_mode("error")
        try:
            sparse.before_optimizer_step(step)
            optimizer.step()
            sparse.after_optimizer_step(step)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        params = dict(model.named_parameters())
        for name, mask in sparse.masks.items():
            assert mask.device.type == "cuda"
            assert int(mask.sum()) == counts[name]
            assert torch.count_nonzero(params[name].detach()[~mask]) == 0
            for state in optimizer.state[params[name]].values():
                if state.shape == mask.shape:
                    assert torch.count_nonzero(state[~mask]) == 0
    assert sparse.updates_done == 4


def test_masks_follow_a_model_moved_after_construction(tmp_path):
    model = small_model("cnn")
    sparse = SparseTraining(model, SparseConfig(strategy="set", update_frequency=1), 5, seed=0)
    masks_seen_by_caller = sparse.masks
    model.to(CUDA)
    optimizer = make_optimizer("sgd", model)
    sparse.attach(optimizer)
    inputs, targets = (t.to(CUDA) for t in batch("cnn"))
    for step in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        sparse.before_optimizer_step(step)
        optimizer.step()
        sparse.after_optimizer_step(step)
    assert all(mask.device.type == "cuda" for mask in masks_seen_by_caller.values())
    flops = inference_flops(model, MODELS["cnn"][2], sparse.masks)
    assert 0 < flops["ratio"] < 1
    path = tmp_path / "model.pt"
    save_compact(path, model.state_dict(), sparse.masks, {})
    state, masks, _ = load_compact(path, model=model)
    for name, tensor in model.state_dict().items():
        assert torch.equal(state[name], tensor.cpu())
    restored = SparseTraining(small_model("cnn").to(CUDA), sparse.config, 5, seed=0)
    restored.load_state_dict(sparse.state_dict())
    assert all(torch.equal(restored.masks[n], sparse.masks[n]) for n in masks)


@pytest.mark.parametrize("strategy", ["snip", "grasp"])
def test_scored_strategies_on_gpu(strategy):
    model = tiny_net().to(CUDA)
    sparse = SparseTraining(model, SparseConfig(density=0.25, strategy=strategy), 5, seed=0)
    data = [(torch.randn(6, 2, 8, 8), torch.randint(0, 3, (6,)))]
    sparse.initialize_from_data(data)
    assert [int(m.sum()) for m in sparse.masks.values()] == [29, 43]  # linear stays dense
    assert all(m.device.type == "cuda" for m in sparse.masks.values())
