"""Numeric precision of training and evaluation: fp32, or bf16/fp16 autocast.

Mixed precision runs the forward pass (and so the backward) of convolutions and
matrix products in 16 bits under :func:`torch.autocast`; parameters, gradients,
optimizer state and sparse masks stay fp32, so the sparse engine sees exactly what
it sees in fp32. bf16 keeps fp32's exponent range and needs no loss scaling; fp16
does (CUDA only): :class:`GradientStep` scales the loss with a ``GradScaler`` and a
step whose unscaled gradients are not finite changes nothing -- no optimizer step,
no mask update -- and only lowers the scale.

The default is fp32 on every device: on the 2-core CPU this was built on, a bf16
training epoch measured 3.5x slower than fp32
(``benchmarks/results/speed-throughput.md``), and no GPU was available to measure;
pass ``--precision bf16`` where it measures faster.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from rest.errors import RestError

PRECISIONS = ("fp32", "bf16", "fp16")
HALF_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(name: str, device: torch.device) -> None:
    """A precision ``device`` cannot run is an error naming what to use instead."""
    if name not in PRECISIONS:
        raise RestError(f"unknown --precision {name!r}; choose one of: {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type != "cuda":
        raise RestError(
            f"--precision fp16 needs a CUDA device (this run uses {device.type}); "
            "use bf16 or fp32 on a CPU"
        )
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise RestError("--precision bf16 is not supported by this GPU; use fp16 or fp32")


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The forward-pass context of ``precision`` (a no-op in fp32)."""
    if precision not in HALF_DTYPES:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=HALF_DTYPES[precision])


class GradientStep:
    """Backward pass and optimizer step at one precision.

    In fp16 the loss is scaled before ``backward`` and the gradients unscaled before
    anything reads them; :meth:`gradients_finite` is then the one host
    synchronisation per step (``GradScaler`` makes it anyway). Other precisions
    never skip and never synchronise.
    """

    def __init__(self, precision: str, device: torch.device) -> None:
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
        self.skipped = 0

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def gradients_finite(self, optimizer: torch.optim.Optimizer) -> bool:
        """Unscale (fp16) and say whether every gradient is finite; counts skipped steps."""
        if self.scaler is None:
            return True
        self.scaler.unscale_(optimizer)
        grads = [
            p.grad
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        finite = (
            bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()) if grads else True
        )
        if not finite:
            self.skipped += 1
        return finite

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)

    def end_step(self) -> None:
        """After a step, taken or skipped: the scaler grows or shrinks its scale."""
        if self.scaler is not None:
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
