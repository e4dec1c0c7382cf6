"""The one training loop.

:class:`Trainer` is the loop every model in ``rest`` is trained with -- the main
model of any method, and the throwaway models that infer a conflicting set. Per
batch: the method turns the batch into a loss, the engine back-propagates, the
sparse engine (when the method is sparse) sees the gradients before and the
weights after the optimizer step.
"""

from __future__ import annotations

import math
import sys
import time

import torch
from torch import nn
from tqdm import tqdm

from rest.errors import RestError
from rest.loader import BatchLoader
from rest.methods import Method
from rest.precision import GradientStep, autocast, check_precision
from rest.sparse import SparseTraining


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RestError(f"--device {name} was asked for but no CUDA GPU is available; use cpu")
    return torch.device(name)


class Trainer:
    """Trains ``model`` one epoch at a time with ``method``'s loss."""

    def __init__(
        self,
        model: nn.Module,
        method: Method,
        optimizer: torch.optim.Optimizer,
        loader: BatchLoader,
        sparse: SparseTraining | None = None,
        show_progress: bool = True,
        precision: str = "fp32",
    ) -> None:
        self.model = model
        self.method = method
        self.optimizer = optimizer
        self.loader = loader
        self.sparse = sparse
        self.show_progress = show_progress
        self.step = 0
        check_precision(precision, loader.device)
        self.precision = precision
        self.gradients = GradientStep(self.precision, loader.device)

    def train_epoch(self, description: str) -> dict[str, float]:
        self.model.train()
        device = self.loader.device
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        started = time.perf_counter()
        bar = tqdm(
            self.loader,
            desc=description,
            leave=False,
            disable=not self.show_progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        for batch_number, batch in enumerate(bar):
            with autocast(self.precision, device):
                loss, logits = self.method.loss(self.model, batch)
            self.optimizer.zero_grad(set_to_none=True)
            self.gradients.backward(loss)
            # A non-finite (fp16-overflowed) step moves neither weights nor masks.
            if self.gradients.gradients_finite(self.optimizer):
                if self.sparse is not None:
                    self.sparse.before_optimizer_step(self.step)
                self.gradients.step(self.optimizer)
                if self.sparse is not None:
                    self.sparse.after_optimizer_step(self.step)
            self.gradients.end_step()
            self.step += 1
            loss_sum += loss.detach() * len(batch)
            correct += (logits.detach().argmax(1) == batch.targets).sum()
            seen += len(batch)
            if self.show_progress and batch_number % 10 == 0:
                bar.set_postfix(
                    loss=f"{loss_sum.item() / seen:.3f}", acc=f"{correct.item() / seen:.3f}"
                )
        mean_loss = loss_sum.item() / max(seen, 1)
        if not math.isfinite(mean_loss):
            raise RestError(f"training diverged ({description}: loss {mean_loss}); lower --lr")
        stats = {
            "loss": mean_loss,
            "accuracy": correct.item() / max(seen, 1),
            "seconds": time.perf_counter() - started,
        }
        if self.gradients.scaler is not None:
            stats["skipped_steps"] = self.gradients.skipped
        return stats
