"""The same loop on a CUDA device: masks stay on the GPU and weights stay exactly sparse.

Skipped where no GPU is present (CI); run on a GPU machine with
``pytest tests/test_gpu.py``.
"""

from __future__ import annotations

import pytest
import torch

from rest.engine import fit

from training_testing import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("method", ["rest", "lff", "groupdro"])
def test_training_on_cuda_matches_the_cpu_schema(method, tiny_splits, tmp_path):
    sections = {"sparse": {"density": 0.2}} if method == "rest" else {}
    config = tiny_config(method, run={"device": "cuda"}, **sections)
    summary = fit(config, tiny_splits, out=tmp_path / method, show_progress=False)
    assert summary["device"].startswith("cuda")
    assert summary["time"]["cuda_max_allocated_mb"] > 0
    cpu = fit(tiny_config(method, **sections), tiny_splits, show_progress=False)
    assert set(summary) == set(cpu)


def test_sparse_weights_stay_zero_on_cuda(tiny_splits):
    from rest.models import build_model
    from rest.sparse import SparseConfig, SparseTraining

    model = build_model("cnn", 4, (3, 12, 12), 8).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    sparse = SparseTraining(
        model, SparseConfig(density=0.1, update_frequency=2), total_steps=20, seed=0
    )
    sparse.attach(optimizer)
    images = tiny_splits.train.images[:64].cuda().float() / 255
    targets = tiny_splits.train.targets[:64].cuda()
    counts = {name: int(mask.sum()) for name, mask in sparse.masks.items()}
    for step in range(20):
        loss = torch.nn.functional.cross_entropy(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        sparse.before_optimizer_step(step)
        optimizer.step()
        sparse.after_optimizer_step(step)
        params = dict(model.named_parameters())
        for name, mask in sparse.masks.items():
            assert mask.device.type == "cuda"
            assert int(mask.sum()) == counts[name]
            assert torch.count_nonzero(params[name][~mask]) == 0
    assert sparse.stats()["updates_done"] >= 5
