"""The GPU launcher: one queue over the visible GPUs, ``k`` jobs per GPU at once.

Each worker is pinned to one device with ``CUDA_VISIBLE_DEVICES`` (so ``cuda`` and
``auto`` inside the job mean that GPU), and gets ``cores / (GPUs * k)`` torch threads.
The visible GPUs are those of this process: ``CUDA_VISIBLE_DEVICES=2,3 rest sweep
--launcher gpus`` uses GPUs 2 and 3 only.
"""

from __future__ import annotations

import os
from pathlib import Path

from rest.errors import RestError
from rest.launch.local import LocalLauncher


def visible_gpus() -> list[str]:
    """The ids to hand to ``CUDA_VISIBLE_DEVICES``, one per GPU this process may use."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [gpu.strip() for gpu in listed.split(",") if gpu.strip() and gpu.strip() != "-1"]
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


class GpusLauncher(LocalLauncher):
    def __init__(self, runs_per_gpu: int, log_dir: str | Path) -> None:
        if isinstance(runs_per_gpu, bool) or not isinstance(runs_per_gpu, int) or runs_per_gpu < 1:
            raise RestError(f"--runs-per-gpu must be a positive integer, got {runs_per_gpu!r}")
        gpus = visible_gpus()
        if not gpus:
            raise RestError("--launcher gpus: no GPU is visible here; use --launcher local")
        self.gpus = gpus
        slots = [{"CUDA_VISIBLE_DEVICES": gpu} for _ in range(runs_per_gpu) for gpu in gpus]
        super().__init__(len(slots), log_dir, slots)
