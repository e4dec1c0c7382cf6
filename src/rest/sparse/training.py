"""The sparse-training engine the training loop drives around each optimizer step.

Step order, with ``step`` counting from 0::

    loss.backward()
    sparse.before_optimizer_step(step)   # mask the grads (keeping the dense one at updates)
    optimizer.step()
    sparse.after_optimizer_step(step)    # zero the inactive weights, then update the masks

This is the published RigL order (Evci et al. 2020): the optimizer steps on the
current mask, then an update step drops the smallest weights and grows the
inactive positions whose gradient *in that step* was largest; grown weights start
at exactly zero with zeroed optimizer state. ``update_order="before-step"`` runs the
update before the step instead (grown weights then leave the step at ``-lr * g``).

Masking the gradients before the step keeps every optimizer state tensor zero at
inactive positions (SGD momentum and weight decay, Adam moments), so inactive
weights stay exactly zero; re-zeroing after the step guards against optimizers that
move a weight with zero gradient. Per-layer active counts never change: an update
drops ``n`` active weights and grows ``n`` others.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rest.errors import RestError
from rest.sparse.config import SparseConfig
from rest.sparse.distributions import layer_counts, layer_densities
from rest.sparse.drop import DROP_RULES
from rest.sparse.grow import GROW_RULES
from rest.sparse.masking import maskable_parameters, model_size, random_mask, top_mask
from rest.sparse.schedules import ALPHA_SCHEDULES
from rest.sparse.scores import SCORE_BATCHES, STATIC_SCORES, Objective, on_pairs
from rest.sparse.strategies import STRATEGIES


@dataclass
class _Layer:
    """A sparse weight: its mask, the mask's complement (for ``masked_fill_``, which
    writes +0.0 where a multiply would leave -0.0) and every position ever active."""

    param: nn.Parameter
    count: int
    mask: Tensor
    inactive: Tensor
    ever_active: Tensor

    def set_mask(self, mask: Tensor) -> None:
        self.mask.copy_(mask)
        torch.logical_not(self.mask, out=self.inactive)
        self.ever_active |= self.mask

    def to(self, device: torch.device) -> None:
        self.mask = self.mask.to(device)
        self.inactive = self.inactive.to(device)
        self.ever_active = self.ever_active.to(device)


def resolve_update_frequency(config: SparseConfig, total_steps: int) -> int:
    """The literal ``update_frequency``, or one that spreads ``target_updates`` updates
    over the update window (a fixed 1000 updates a short run only a handful of times)."""
    if config.update_frequency is not None:
        return config.update_frequency
    return max(1, math.floor(total_steps * config.stop_fraction / config.target_updates))


class SparseTraining:
    """Masks over a model's conv/linear weights, kept and (for RigL/SET) updated in training."""

    def __init__(self, model: nn.Module, config: SparseConfig, total_steps: int, seed: int):
        if not isinstance(total_steps, int) or total_steps < 1:
            raise RestError(f"sparse training needs at least one training step, got {total_steps}")
        self.model = model
        self.config = config
        self.strategy = STRATEGIES.get(config.strategy)
        self.total_steps = total_steps
        self.seed = seed
        self.update_frequency = resolve_update_frequency(config, total_steps)
        self.stop_step = max(1, math.floor(total_steps * config.stop_fraction))
        self.updates_done = 0
        # samples pushed through dense forward / backward passes to score a static mask
        self.scoring_passes = {"scoring_forward_samples": 0, "scoring_backward_samples": 0}
        # dense gradients kept from before_optimizer_step for an after-step mask update
        self._update_gradients: dict[str, Tensor | None] | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self._generators: dict[torch.device, torch.Generator] = {}

        self._maskable = maskable_parameters(model)
        names = list(self._maskable)
        shapes = [tuple(p.shape) for p in self._maskable.values()]
        forced = {0} if config.dense_first_layer else set()
        if config.dense_last_layer:
            forced.add(len(names) - 1)
        densities = layer_densities(config.distribution, shapes, config.density, forced)
        sizes = [p.numel() for p in self._maskable.values()]
        counts = layer_counts(densities, sizes, config.density)

        self._layers: dict[str, _Layer] = {}
        for name, count in zip(names, counts, strict=True):
            param = self._maskable[name]
            if count >= param.numel():
                continue
            mask = random_mask(param.shape, count, self._generator(param.device), param.device)
            self._layers[name] = _Layer(param, count, mask, ~mask, mask.clone())
        self.masks: dict[str, Tensor] = {name: layer.mask for name, layer in self._layers.items()}

        # Scored strategies choose their mask from the dense initialisation, so keep it
        # until initialize_from_data has run.
        self._dense_init: dict[str, Tensor] | None = None
        if self.strategy.score is not None and self._layers:
            self._dense_init = {n: lay.param.detach().clone() for n, lay in self._layers.items()}
        self.apply_masks()

    # -- the training loop's calls ---------------------------------------------------------

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        """Remember the optimizer whose per-weight state is reset for regrown weights."""
        self._optimizer = optimizer

    def initialize_from_data(
        self,
        batches: Iterable[Any],
        objective: Objective | None = None,
        max_batches: int = SCORE_BATCHES,
    ) -> None:
        """Choose SNIP/GraSP masks from the first ``max_batches`` batches (a lazy iterable
        over a whole loader is fine); no-op for other strategies.

        ``objective(forward, batch)`` is the loss the run trains with, the logits taken
        as ``forward(inputs)`` (see :mod:`rest.sparse.scores`); default: cross-entropy
        over ``(inputs, targets)`` batches.
        """
        if self._dense_init is None:
            return
        batches = list(itertools.islice(batches, max_batches))
        if not batches:
            raise RestError(f"strategy {self.config.strategy!r} needs at least one batch to score")
        device = next(iter(self._maskable.values())).device
        objective = objective or on_pairs(F.cross_entropy, device)
        forward_samples = 0

        def counted(forward: Callable[[Tensor], Tensor], batch: Any) -> Tensor:
            def counting_forward(inputs: Tensor) -> Tensor:
                nonlocal forward_samples
                forward_samples += int(inputs.shape[0])
                return forward(inputs)

            return objective(counting_forward, batch)

        # Scoring runs forward passes; keep them from moving BatchNorm running statistics.
        buffers = {name: b.clone() for name, b in self.model.named_buffers()}
        with torch.no_grad():
            for name, layer in self._layers.items():
                layer.param.copy_(self._dense_init[name])
        assert self.strategy.score is not None
        score = STATIC_SCORES.get(self.strategy.score)
        scores = score.score(self.model, self._maskable, batches, counted)
        with torch.no_grad():
            for name, b in self.model.named_buffers():
                b.copy_(buffers[name])
        for name, layer in self._layers.items():
            layer.set_mask(top_mask(scores[name], layer.count))
            layer.ever_active.copy_(layer.mask)
        samples = forward_samples // score.forward_passes
        self.scoring_passes = {
            "scoring_forward_samples": samples * score.forward_passes,
            "scoring_backward_samples": samples * score.backward_passes,
        }
        self._dense_init = None
        self.apply_masks()

    def before_optimizer_step(self, step: int) -> None:
        """After ``loss.backward()``: mask the grads; at an update step, update the masks
        first (``before-step``) or keep the dense gradient for the update after the step."""
        if self._dense_init is not None:
            raise RestError(
                f"strategy {self.config.strategy!r} scores its mask from data: call "
                "initialize_from_data(batches, loss_fn) before training"
            )
        self._follow_device()
        if self.is_update_step(step):
            gradients = self._gradients()
            if self.config.update_order == "before-step":
                self._update_masks(step, gradients)
            else:
                self._update_gradients = gradients
        for layer in self._layers.values():
            if layer.param.grad is not None:
                layer.param.grad.masked_fill_(layer.inactive, 0.0)

    def after_optimizer_step(self, step: int) -> None:
        """After ``optimizer.step()``: inactive weights back to exactly zero, then the
        after-step mask update with the gradient kept before the step."""
        self.apply_masks()
        if self._update_gradients is not None:
            gradients, self._update_gradients = self._update_gradients, None
            self._update_masks(step, gradients)

    def is_update_step(self, step: int) -> bool:
        return (
            self.strategy.dynamic
            and bool(self._layers)
            and 0 < step < self.stop_step
            and step % self.update_frequency == 0
        )

    @property
    def planned_updates(self) -> int:
        """Mask updates a run of ``total_steps`` steps makes."""
        if not self.strategy.dynamic or not self._layers:
            return 0
        return (self.stop_step - 1) // self.update_frequency

    def apply_masks(self) -> None:
        with torch.no_grad():
            for layer in self._layers.values():
                layer.param.masked_fill_(layer.inactive, 0.0)

    # -- mask updates ------------------------------------------------------------------------

    def _gradients(self) -> dict[str, Tensor | None]:
        """Each layer's dense gradient (a copy when the grow rule ranks by it)."""
        assert self.strategy.grow is not None
        if not GROW_RULES.get(self.strategy.grow).dense_gradient:
            return dict.fromkeys(self._layers)
        return {
            name: None if layer.param.grad is None else layer.param.grad.detach().clone()
            for name, layer in self._layers.items()
        }

    def _update_masks(self, step: int, gradients: dict[str, Tensor | None]) -> None:
        assert self.strategy.drop is not None and self.strategy.grow is not None
        drop = DROP_RULES.get(self.strategy.drop)
        grow = GROW_RULES.get(self.strategy.grow)
        fraction = ALPHA_SCHEDULES.get(self.config.alpha_schedule)(
            self.config.alpha, step, self.stop_step
        )
        for name, layer in self._layers.items():
            grad = gradients[name]
            if grow.dense_gradient and grad is None:
                continue  # a layer the loss did not reach cannot be ranked
            n = math.floor(fraction * layer.count)
            if n > 0:
                self._replace(layer, n, grad, drop, grow.score)
        self.updates_done += 1

    def _replace(
        self, layer: _Layer, n: int, grad: Tensor | None, drop: Callable, grow: Callable
    ) -> None:
        """Drop the ``n`` lowest-scoring active weights, grow the ``n`` best other positions.

        Only the surviving weights are kept out of the grow ranking (RigL), so a
        just-dropped weight may win its place back and then keeps its value and optimizer
        state, as if never dropped; with ``regrow_dropped`` off, just-dropped positions
        rank below every other inactive one. Newly active weights start at zero with zero
        optimizer state; dropped ones go to zero with theirs.
        """
        weight = layer.param.detach()
        generator = self._generator(weight.device)
        mask = layer.mask.view(-1)

        keep_score = torch.where(mask, drop(weight, grad, generator).reshape(-1), math.inf)
        dropped = torch.topk(keep_score, n, largest=False, sorted=False).indices
        survivors = mask.scatter(0, dropped, False)

        grow_score = grow(weight, grad, generator).reshape(-1)
        if not self.config.regrow_dropped:  # grow scores are >= 0, so -1 ranks below them
            grow_score = grow_score.masked_fill(mask, -1.0)
        grow_score = grow_score.masked_fill(survivors, -math.inf)
        grown = torch.topk(grow_score, n, sorted=False).indices
        new_mask = survivors.scatter(0, grown, True).view(weight.shape)

        changed = new_mask ^ layer.mask
        with torch.no_grad():
            layer.param.masked_fill_(changed, 0.0)
        self._reset_optimizer_state(layer.param, changed)
        layer.set_mask(new_mask)

    def _reset_optimizer_state(self, param: nn.Parameter, positions: Tensor) -> None:
        """Zero every per-weight optimizer state tensor (momentum, Adam moments...) there."""
        if self._optimizer is None:
            return
        for value in self._optimizer.state.get(param, {}).values():
            if isinstance(value, Tensor) and value.shape == param.shape:
                value.masked_fill_(positions, 0)

    # -- bookkeeping -------------------------------------------------------------------------

    def _generator(self, device: torch.device) -> torch.Generator:
        if device not in self._generators:
            generator = torch.Generator(device=device)
            generator.manual_seed(self.seed)
            self._generators[device] = generator
        return self._generators[device]

    def _follow_device(self) -> None:
        """Move masks with their weights if the model moved after the masks were built."""
        for name, layer in self._layers.items():
            if layer.mask.device != layer.param.device:
                layer.to(layer.param.device)
                self.masks[name] = layer.mask  # same dict: callers holding it see the move

    def exploration_rate(self) -> float:
        """Fraction of maskable positions that have been active at some point."""
        total = sum(p.numel() for p in self._maskable.values())
        ever = sum(
            int(self._layers[n].ever_active.sum()) if n in self._layers else p.numel()
            for n, p in self._maskable.items()
        )
        return ever / total

    def stats(self) -> dict:
        """JSON-able summary: model size under the masks, the update history and the
        dense scoring passes a SNIP/GraSP mask cost (for the training FLOPs)."""
        grow = GROW_RULES.get(self.strategy.grow) if self.strategy.grow else None
        return {
            "strategy": self.config.strategy,
            "distribution": self.config.distribution,
            "target_density": self.config.density,
            **model_size(self.model, self.masks),
            "update_frequency": self.update_frequency if self.strategy.dynamic else None,
            "planned_updates": self.planned_updates,
            "updates_done": self.updates_done,
            "dense_gradient_updates": self.updates_done if grow and grow.dense_gradient else 0,
            "exploration_rate": self.exploration_rate(),
            **self.scoring_passes,
        }

    def state_dict(self) -> dict:
        """Everything needed to resume exactly: masks, ever-active record, counter, RNG."""
        return {
            "masks": {n: layer.mask.clone() for n, layer in self._layers.items()},
            "ever_active": {n: layer.ever_active.clone() for n, layer in self._layers.items()},
            "updates_done": self.updates_done,
            "scoring_passes": dict(self.scoring_passes),
            "rng": {str(d): g.get_state() for d, g in self._generators.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        try:
            masks, ever_active = state["masks"], state["ever_active"]
            updates_done, rng = int(state["updates_done"]), state["rng"]
        except (KeyError, TypeError, ValueError):
            raise RestError("sparse-training state is incomplete or malformed") from None
        if set(masks) != set(self._layers) or set(ever_active) != set(self._layers):
            raise RestError(
                "sparse-training state does not match this model and config: masked layers "
                f"{sorted(masks)} vs {sorted(self._layers)}"
            )
        for name, layer in self._layers.items():
            mask = masks[name]
            if mask.shape != layer.mask.shape or int(mask.sum()) != layer.count:
                raise RestError(
                    f"sparse-training state does not match this model and config: {name} has "
                    f"shape {tuple(mask.shape)} with {int(mask.sum())} active weights, expected "
                    f"{tuple(layer.mask.shape)} with {layer.count}"
                )
        for name, layer in self._layers.items():
            layer.set_mask(masks[name].to(layer.mask.device, torch.bool))
            layer.ever_active.copy_(ever_active[name])
        self.updates_done = updates_done
        self.scoring_passes.update(state.get("scoring_passes", {}))
        for device, generator_state in rng.items():
            self._generator(torch.device(device)).set_state(generator_state)
        self._dense_init = None
        self.apply_masks()
