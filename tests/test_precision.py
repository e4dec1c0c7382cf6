"""Mixed precision: 16-bit forward passes, fp32 state, and no step from non-finite gradients."""

from __future__ import annotations

import pytest
import torch

from rest.build import build_training
from rest.engine import fit
from rest.errors import RestError
from rest.metrics import predict
from rest.precision import GradientStep, check_precision
from rest.resolve import resolve

from training_testing import tiny_config

CPU = torch.device("cpu")


def conv_output_dtypes(model: torch.nn.Module) -> list[torch.dtype]:
    """Record the dtype every conv layer computes in (a hook on each)."""
    seen: list[torch.dtype] = []
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    return seen


def rest_training(tiny_splits, precision: str, **sparse):
    config = tiny_config(
        "rest",
        run={"precision": precision},
        sparse={"density": 0.2, "update_frequency": 1, **sparse},
        optim={"epochs": 1, "batch_size": 64, "lr": 0.05, "scheduler": "none"},
    )
    return build_training(resolve(config, tiny_splits), tiny_splits, CPU)


def test_fp16_needs_cuda():
    with pytest.raises(RestError, match="fp16 needs a CUDA device"):
        check_precision("fp16", CPU)
    check_precision("bf16", CPU)
    with pytest.raises(RestError, match="unknown --precision"):
        check_precision("fp8", CPU)


def test_bf16_training_computes_in_bf16_and_keeps_state_fp32_and_sparse(tiny_splits):
    training = rest_training(tiny_splits, "bf16")
    model, optimizer, sparse = training.model, training.optimizer, training.sparse
    dtypes = conv_output_dtypes(model)
    counts = {name: int(mask.sum()) for name, mask in sparse.masks.items()}
    training.trainer.train_epoch("bf16")
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert sparse.updates_done > 0
    params = dict(model.named_parameters())
    for param in model.parameters():
        assert param.dtype == torch.float32
        for state in optimizer.state[param].values():
            assert state.dtype == torch.float32
    for name, mask in sparse.masks.items():
        assert int(mask.sum()) == counts[name]
        assert torch.count_nonzero(params[name].detach()[~mask]) == 0


def test_evaluation_runs_under_the_training_precision(tiny_splits):
    model = rest_training(tiny_splits, "bf16").model
    dtypes = conv_output_dtypes(model)
    predictions, losses, _ = predict(model, tiny_splits.test, CPU, 32, precision="bf16")
    assert set(dtypes) == {torch.bfloat16}
    assert losses.dtype == torch.float32 and len(predictions) == len(tiny_splits.test)
    dtypes.clear()
    predict(model, tiny_splits.test, CPU, 32)
    assert set(dtypes) == {torch.float32}


def test_a_step_with_non_finite_gradients_moves_neither_weights_nor_masks(tiny_splits):
    """fp16 overflow, reproduced on a CPU: an infinite loss scale makes every scaled
    gradient non-finite. Every step would be a mask-update step."""
    training = rest_training(tiny_splits, "fp32")
    trainer, sparse, model = training.trainer, training.sparse, training.model
    trainer.gradients = GradientStep("fp16", CPU)
    assert trainer.gradients.scaler is not None
    trainer.gradients.scaler = torch.amp.GradScaler("cpu", init_scale=float("inf"))
    trainer.loader.batch_size = len(tiny_splits.train)  # one step per epoch
    trainer.step = 1  # step 0 never updates masks
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    masks = {n: m.clone() for n, m in sparse.masks.items()}

    stats = trainer.train_epoch("overflow")

    assert stats["skipped_steps"] == 1
    assert sparse.updates_done == 0
    for name, param in model.named_parameters():
        assert torch.equal(param.detach(), weights[name]), name
    for name, mask in sparse.masks.items():
        assert torch.equal(mask, masks[name]), name
    assert not training.optimizer.state  # no optimizer step ran

    trainer.gradients.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    stats = trainer.train_epoch("finite")
    assert stats["skipped_steps"] == 1  # unchanged: this step was taken
    assert sparse.updates_done == 1
    changed = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), weights[n])]
    assert changed


def test_fp16_on_a_cpu_run_fails_before_writing_anything(tiny_splits, tmp_path):
    config = tiny_config("erm", run={"precision": "fp16"})
    with pytest.raises(RestError, match="fp16 needs a CUDA device"):
        fit(config, tiny_splits, out=tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()
