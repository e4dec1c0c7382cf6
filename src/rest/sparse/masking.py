"""Which weights are maskable, random masks, and the size of a (sparse) model.

Only the weight tensors of convolutions and linear layers carry masks: they hold
almost all parameters and FLOPs, while biases and normalisation layers are tiny
and pruning them destabilises training. Masks are boolean tensors keyed by the
parameter's name in ``model.named_parameters()``; a maskable weight without a mask
is dense.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rest.errors import RestError

MASKABLE_MODULES: tuple[type[nn.Module], ...] = (nn.modules.conv._ConvNd, nn.Linear)


def maskable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weights of every conv and linear layer, in module order (first layer first).

    A weight shared by several modules is listed once. Raises :class:`RestError` when
    the model has none, since sparse training would then have nothing to do.
    """
    found: dict[str, nn.Parameter] = {}
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if not isinstance(module, MASKABLE_MODULES) or not isinstance(weight, nn.Parameter):
            continue
        if id(weight) in seen:
            continue
        seen.add(id(weight))
        found[f"{module_name}.weight" if module_name else "weight"] = weight
    if not found:
        raise RestError(
            f"{type(model).__name__} has no conv or linear layer to sparsify; "
            "use density 1.0 (dense) for this model"
        )
    return found


def random_mask(
    shape: torch.Size, count: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    """A boolean mask of ``shape`` with exactly ``count`` True entries, uniformly placed."""
    numel = shape.numel()
    chosen = torch.randperm(numel, generator=generator, device=device)[:count]
    return torch.zeros(numel, dtype=torch.bool, device=device).scatter_(0, chosen, True).view(shape)


def top_mask(scores: Tensor, count: int) -> Tensor:
    """A boolean mask keeping the ``count`` highest scores (ties broken by ``topk``)."""
    flat = scores.reshape(-1)
    chosen = torch.topk(flat, count, sorted=False).indices
    mask = torch.zeros(flat.numel(), dtype=torch.bool, device=scores.device)
    return mask.scatter_(0, chosen, True).view(scores.shape)


def model_size(model: nn.Module, masks: dict[str, Tensor] | None = None) -> dict:
    """Parameter counts of ``model`` under ``masks`` (JSON-able).

    ``nonzeros`` counts every parameter that is kept: all unmasked parameters plus
    the active positions of masked weights (a just-regrown weight is kept although
    its value is still zero). ``density`` is active / maskable weights.
    """
    masks = masks or {}
    maskable = maskable_parameters(model)
    unknown = sorted(set(masks) - set(maskable))
    if unknown:
        raise ValueError(f"masks for non-maskable parameters: {', '.join(unknown)}")
    total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    per_layer: dict[str, float] = {}
    active = 0
    for name, weight in maskable.items():
        kept = int(masks[name].sum()) if name in masks else weight.numel()
        per_layer[name] = kept / weight.numel()
        active += kept
    maskable_count = sum(w.numel() for w in maskable.values())
    return {
        "total_params": total,
        "maskable_params": maskable_count,
        "active_maskable": active,
        "nonzeros": total - (maskable_count - active),
        "density": active / maskable_count,
        "per_layer": per_layer,
    }
