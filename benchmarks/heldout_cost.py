"""What the counterfactual valid/test splits of ``cmnist`` cost per epoch, against published.

The demo trains on the 4,000 built-in digits and evaluates valid and test after
every epoch. Counterfactual splits render each of the 500 + 500 held-out digits in
all ten colours (10,000 images instead of 1,000). This times, on the demo's CNN
and batch size, one training epoch and one evaluation of valid + test under each
protocol; repetitions alternate the three measurements so that a change in
machine load hits them alike, and the table reports medians of wall time and of
process CPU time (all threads), the latter less sensitive to other processes.

Usage: python benchmarks/heldout_cost.py [--reps 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rest.data import DataConfig, load_dataset
from rest.loader import to_model_input
from rest.metrics import evaluate
from rest.models import build_model

RESULTS = Path(__file__).parent / "results" / "heldout_cost.md"
BATCH = 64  # the demo's batch size


def timed(task) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    task()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = {
        protocol: load_dataset(DataConfig(dataset="cmnist", heldout=protocol))
        for protocol in ("published", "counterfactual")
    }
    train = data["published"].train
    model = build_model("cnn", train.num_classes, train.image_shape)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    device = torch.device("cpu")

    def train_epoch() -> None:
        model.train()
        order = torch.randperm(len(train))
        for start in range(0, len(train), BATCH):
            index = order[start : start + BATCH]
            loss = F.cross_entropy(
                model(to_model_input(train.images[index], device)), train.targets[index]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def evaluation(protocol: str):
        return lambda: [
            evaluate(model, s, device) for s in (data[protocol].valid, data[protocol].test)
        ]

    tasks = {
        "train epoch (4,000 images)": train_epoch,
        "evaluate valid + test, published (1,000 images)": evaluation("published"),
        "evaluate valid + test, counterfactual (10,000 images)": evaluation("counterfactual"),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in tasks}
    for _ in range(args.reps):
        for name, task in tasks.items():
            times[name].append(timed(task))
    rows = {
        name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
        for name, t in times.items()
    }
    names = list(rows)
    per_epoch = {
        protocol: tuple(rows[names[0]][i] + rows[names[k]][i] for i in (0, 1))
        for k, protocol in ((1, "published"), (2, "counterfactual"))
    }
    lines = [
        f"# Cost of counterfactual valid/test on the demo (cmnist, cnn, batch {BATCH})",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
        f"torch threads {args.threads}, torch {torch.__version__}; load average at the end "
        f"{os.getloadavg()[0]:.1f}. Medians of {args.reps} alternating repetitions.",
        "",
        "| measurement | wall s | process CPU s |",
        "|---|---:|---:|",
        *(f"| {name} | {w:.2f} | {c:.2f} |" for name, (w, c) in rows.items()),
        *(
            f"| epoch = train + evaluate, {p} | {w:.2f} | {c:.2f} |"
            for p, (w, c) in per_epoch.items()
        ),
        "",
        "Counterfactual / published epoch time: "
        f"{per_epoch['counterfactual'][0] / per_epoch['published'][0]:.2f}x wall, "
        f"{per_epoch['counterfactual'][1] / per_epoch['published'][1]:.2f}x CPU.",
        "",
        f"Command: `python benchmarks/heldout_cost.py --reps {args.reps} --threads {args.threads}`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
