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
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rest.errors import RestError
from rest.sparse.config import SparseConfig
from rest.sparse.distributions import layer_counts, layer_densities
from rest.sparse.grow import GROW_RULES
from rest.sparse.masking import maskable_parameters, model_size, random_mask, top_mask
from rest.sparse.scores import SCORE_BATCHES, STATIC_SCORES, Objective, on_pairs
from rest.sparse.strategies import STRATEGIES
from rest.sparse.update import MaskedLayer, update_gradients, update_masks


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

        self._layers: dict[str, MaskedLayer] = {}
        for name, count in zip(names, counts, strict=True):
            param = self._maskable[name]
            if count >= param.numel():
                continue
            mask = random_mask(param.shape, count, self._generator(param.device), param.device)
            self._layers[name] = MaskedLayer(param, count, mask, ~mask, mask.clone())
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
            gradients = update_gradients(self.strategy, self._layers)
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

    def _update_masks(self, step: int, gradients: dict[str, Tensor | None]) -> None:
        update_masks(
            self._layers,
            gradients,
            strategy=self.strategy,
            config=self.config,
            step=step,
            stop_step=self.stop_step,
            generator_for=self._generator,
            optimizer=self._optimizer,
        )
        self.updates_done += 1

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
