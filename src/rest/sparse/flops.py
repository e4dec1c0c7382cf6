"""FLOPs of a sparse model, counted by PyTorch at the model's real input size.

Each maskable layer's dense FLOPs come from ``torch.utils.flop_counter`` run on that
layer alone with the input it saw in a full forward pass, so the split follows the
real graph (strides, padding, pooling) rather than formulas. A masked layer costs
its dense FLOPs times its density (multiplications by pruned weights are skipped);
everything else the counter sees is counted dense. Training follows the RigL
accounting (Evci et al. 2020): forward + backward = 3 forward passes of the sparse
model per sample, plus, at each mask update that ranks inactive weights by their
gradient, a dense weight-gradient pass in place of a sparse one. Every other model
a run trains (LfF's biased model, a conflict-inference model) is counted dense.
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
    samples: int | None = None,
    dense_gradient_updates: int = 0,
    other_models: dict[str, float] | None = None,
) -> dict:
    """Training FLOPs of a run: the main model's ``steps`` steps plus every other model trained.

    ``samples`` is the number of samples the main model trained on (default ``steps *
    batch_size``; a partial last batch makes it smaller). ``dense_gradient_updates``
    is the number of mask updates that needed the dense gradient
    (``SparseTraining.stats()["dense_gradient_updates"]``: RigL's updates; SET and
    static strategies need none). At such a step the backward pass computes the dense
    weight gradient of a ``batch_size`` batch: 2 sparse + 1 dense forward instead of 3
    sparse. ``other_models`` maps a component (LfF's biased model, the model that
    infers a conflicting set, a mask-scoring pass) to its dense forward passes in
    samples; those run dense, so they cost the same in the dense and the sparse total.

    Returns the totals ``dense``, ``sparse`` and ``ratio`` over every component, and
    ``components`` = {name: {dense, sparse}} with the main model under ``main``.
    """
    forward = inference_flops(model, input_shape, masks)
    dense, sparse = forward["dense"], forward["sparse"]
    samples = steps * batch_size if samples is None else samples
    components = {
        "main": {
            "dense": 3 * dense * samples,
            "sparse": 3 * sparse * samples + (dense - sparse) * batch_size * dense_gradient_updates,
        }
    }
    for name, passes in (other_models or {}).items():
        components[name] = {"dense": dense * passes, "sparse": dense * passes}
    dense_total = sum(component["dense"] for component in components.values())
    sparse_total = sum(component["sparse"] for component in components.values())
    return {
        "steps": steps,
        "batch_size": batch_size,
        "samples": samples,
        "dense_gradient_updates": dense_gradient_updates,
        "dense": dense_total,
        "sparse": sparse_total,
        "ratio": sparse_total / dense_total if dense_total else 1.0,
        "components": components,
    }
