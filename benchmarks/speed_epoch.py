"""Where a training epoch's time goes: the bare-loop floor, bf16 vs fp32, evaluation.

- Floor: a bare PyTorch loop over the same CNN (uniform shuffle, uint8 -> float,
  cross-entropy, SGD) beside REST's epoch (d=0.1, weighted sampler, masks) in fp32
  and in bf16 autocast, trained epoch by epoch in rotating order; each ratio pairs
  epochs of the same repetition.
- Evaluation share: on the built-in Colored MNIST, one REST training epoch and the
  evaluation of valid and test after it, repeated. Before the evaluation schedule every
  epoch evaluated both; now an epoch evaluates valid, and test only when it becomes
  the selected epoch (and at the last one).
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
import torch.nn.functional as F

from rest.data import BiasedSplits
from rest.metrics import evaluate
from rest.models import build_model
from sparse_step import synchronize
from speed_report import markdown_table
from speed_training import SEED, Variant, Workload, build_trainer

REST = Variant("rest", 0.1)


class BareLoop:
    """The fp32 floor: the same model trained with nothing but PyTorch."""

    def __init__(self, workload: Workload, device: torch.device) -> None:
        train = workload.splits.train
        torch.manual_seed(SEED)
        self.model = build_model(workload.model, train.num_classes, train.image_shape).to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.images, self.targets = train.images, train.targets
        self.batch_size, self.device = workload.batch_size, device
        self.generator = torch.Generator().manual_seed(SEED)

    def train_epoch(self, _description: str) -> dict[str, float]:
        start = time.perf_counter()
        order = torch.randperm(len(self.targets), generator=self.generator)
        for first in range(0, len(order), self.batch_size):
            indices = order[first : first + self.batch_size]
            images = self.images[indices].to(self.device).float().div_(255)
            loss = F.cross_entropy(self.model(images), self.targets[indices].to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        synchronize(self.device)
        return {"seconds": time.perf_counter() - start}


def floor_and_precision(workload: Workload, device: torch.device, repeats: int) -> list[dict]:
    """Interleaved epochs of the bare loop and of REST in fp32 and bf16."""
    runners = {
        "bare PyTorch loop, fp32 (floor)": BareLoop(workload, device),
        "REST d=0.1, fp32": build_trainer(workload, REST, device),
        "REST d=0.1, bf16 autocast": build_trainer(workload, REST, device, precision="bf16"),
    }
    names = list(runners)
    for runner in runners.values():
        runner.train_epoch("warm-up")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeats):
        for i in [*range(rep % len(names), len(names)), *range(rep % len(names))]:
            seconds[names[i]].append(runners[names[i]].train_epoch("timed")["seconds"])
        print(f"  floor/precision repetition {rep + 1}/{repeats}", file=sys.stderr)
    floor, fp32 = seconds[names[0]], seconds[names[1]]
    return [
        {
            "runner": name,
            "workload": workload.description,
            "epoch_seconds": times,
            "median_seconds": statistics.median(times),
            "ratio_to_floor": statistics.median(t / f for t, f in zip(times, floor, strict=True)),
            "ratio_to_rest_fp32": statistics.median(
                t / f for t, f in zip(times, fp32, strict=True)
            ),
        }
        for name, times in seconds.items()
    ]


def floor_section(rows: list[dict], repeats: int) -> list[str]:
    table = markdown_table(
        ["epoch of", "workload", "median s", "ratio to floor", "ratio to REST fp32"],
        [
            [
                r["runner"],
                r["workload"],
                f"{r['median_seconds']:.3f}",
                f"{r['ratio_to_floor']:.2f}",
                f"{r['ratio_to_rest_fp32']:.2f}",
            ]
            for r in rows
        ],
    )
    return [
        "## Epoch time: fp32 floor, REST fp32 and bf16",
        "",
        f"Medians of {repeats} interleaved repetitions; ratios are medians of paired epochs.",
        "",
        table,
        "",
    ]


def evaluation_share(splits: BiasedSplits, device: torch.device, repeats: int) -> dict:
    """Training epoch vs evaluating valid and test after it, on the full built-in data."""
    assert splits.valid is not None
    workload = Workload("cnn", splits, 256)
    trainer = build_trainer(workload, REST, device)
    trainer.train_epoch("warm-up")
    train, valid, test = [], [], []
    for rep in range(repeats):
        train.append(trainer.train_epoch("timed")["seconds"])
        for split, times in ((splits.valid, valid), (splits.test, test)):
            start = time.perf_counter()
            evaluate(trainer.model, split, device)
            synchronize(device)
            times.append(time.perf_counter() - start)
        print(f"  evaluation share repetition {rep + 1}/{repeats}", file=sys.stderr)

    def share(parts: list[list[float]]) -> float:
        return statistics.median(sum(p) / t for *p, t in zip(*parts, train, strict=True))

    return {
        "sizes": {name: len(data) for name, data in splits.splits().items()},
        "train_seconds": statistics.median(train),
        "valid_seconds": statistics.median(valid),
        "test_seconds": statistics.median(test),
        "share_every_epoch_both": share([valid, test]),
        "share_valid_only": share([valid]),
    }


def evaluation_section(result: dict, repeats: int) -> list[str]:
    sizes = result["sizes"]
    return [
        "## Evaluation share of an epoch (built-in Colored MNIST, REST d=0.1, fp32)",
        "",
        f"{sizes['train']} training, {sizes['valid']} validation and {sizes['test']} test "
        f"images; medians of {repeats} repetitions: training epoch "
        f"{result['train_seconds']:.2f} s, valid {result['valid_seconds']:.2f} s, test "
        f"{result['test_seconds']:.2f} s.",
        "",
        markdown_table(
            ["epochs that evaluate", "evaluation / training time"],
            [
                ["valid + test (before: every epoch)", f"{result['share_every_epoch_both']:.1%}"],
                ["valid only (now: every epoch not selected)", f"{result['share_valid_only']:.1%}"],
                [
                    "valid + test (now: selected epochs and the last)",
                    f"{result['share_every_epoch_both']:.1%}",
                ],
            ],
        ),
        "",
    ]
