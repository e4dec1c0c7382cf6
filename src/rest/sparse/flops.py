"""FLOPs of a sparse model, counted by PyTorch at the model's real input size.

Each maskable layer's dense FLOPs come from ``torch.utils.flop_counter`` run on that
layer alone with the input it saw in a full forward pass, so the split follows the
real graph (strides, padding, pooling) rather than formulas. A masked layer costs
its dense FLOPs times its density (multiplications by pruned weights are skipped);
everything else the counter sees is counted dense. Training follows the RigL
accounting (Evci et al. 2020): forward + backward = 3 forward passes of the sparse
model per sample, plus, at each mask update that ranks inactive weights by their
gradient, a dense weight-gradient pass in place of a sparse one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from rest.sparse.masking import maskable_parameters


def _count(fn: Any, *args: Any) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops()


def inference_flops(
    model: nn.Module, input_shape: tuple[int, ...], masks: dict[str, Tensor] | None = None
) -> dict:
    """Per-sample inference FLOPs for one input of ``input_shape`` = (C, H, W).

    Returns ``dense`` and ``sparse`` totals, ``ratio`` = sparse / dense and
    ``per_layer`` = {weight name: {dense, density, sparse}}.
    """
    masks = masks or {}
    weights = maskable_parameters(model)
    modules = {
        f"{name}.weight" if name else "weight": module for name, module in model.named_modules()
    }
    calls: dict[str, list[tuple]] = defaultdict(list)
    hooks = [
        modules[name].register_forward_hook(
            lambda module, args, output, name=name: calls[name].append(args)
        )
        for name in weights
    ]
    first = next(iter(weights.values()))
    sample = torch.zeros(1, *input_shape, dtype=first.dtype, device=first.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            try:
                dense_total = _count(model, sample)
            finally:
                for hook in hooks:
                    hook.remove()
            per_layer: dict[str, dict[str, float]] = {}
            for name in weights:
                layer_dense = sum(_count(modules[name], *args) for args in calls[name])
                density = float(masks[name].float().mean()) if name in masks else 1.0
                per_layer[name] = {
                    "dense": layer_dense,
                    "density": density,
                    "sparse": layer_dense * density,
                }
    finally:
        model.train(was_training)
    saved = sum(layer["dense"] - layer["sparse"] for layer in per_layer.values())
    sparse_total = dense_total - saved
    return {
        "input_shape": list(input_shape),
        "dense": dense_total,
        "sparse": sparse_total,
        "ratio": sparse_total / dense_total if dense_total else 1.0,
        "per_layer": per_layer,
    }


def training_flops(
    model: nn.Module,
    input_shape: tuple[int, ...],
    masks: dict[str, Tensor] | None = None,
    *,
    steps: int,
    batch_size: int,
    dense_gradient_updates: int = 0,
) -> dict:
    """Training FLOPs of ``steps`` steps of ``batch_size`` samples, dense vs sparse.

    ``dense_gradient_updates`` is the number of mask updates that needed the dense
    gradient (``SparseTraining.stats()["dense_gradient_updates"]``: RigL's updates;
    SET and static strategies need none). At such a step the backward pass computes
    the dense weight gradient: 2 sparse + 1 dense forward instead of 3 sparse.
    """
    forward = inference_flops(model, input_shape, masks)
    dense, sparse = forward["dense"], forward["sparse"]
    samples = steps * batch_size
    dense_total = 3 * dense * samples
    sparse_total = 3 * sparse * samples + (dense - sparse) * batch_size * dense_gradient_updates
    return {
        "steps": steps,
        "batch_size": batch_size,
        "dense_gradient_updates": dense_gradient_updates,
        "dense": dense_total,
        "sparse": sparse_total,
        "ratio": sparse_total / dense_total if dense_total else 1.0,
    }
