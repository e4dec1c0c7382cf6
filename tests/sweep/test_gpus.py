"""The gpus launcher on real GPUs (skipped without CUDA): every worker sees exactly its
own GPU, and a sweep trains on them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rest.cli import main
from rest.launch import GpusLauncher, Job
from rest.launch.gpus import visible_gpus

import processes

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_each_worker_sees_only_its_gpu(tmp_path: Path) -> None:
    gpus = visible_gpus()
    jobs = [Job(f"j{i}", processes.visible_cuda) for i in range(2 * len(gpus))]
    results = GpusLauncher(2, tmp_path).run(jobs)
    assert all(result.ok for result in results), [result.error for result in results]
    assert sorted(result.value[0] for result in results) == sorted(gpus * 2)
    assert {result.value[1] for result in results} == {1}


def test_a_sweep_trains_on_the_gpus(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", "--launcher", "gpus", "--runs-per-gpu", "2", "--device", "cuda"]
    tiny = ["--dataset", "cmnist", "--image-size", "8", "--model", "mlp", "--width", "8"]
    assert main([*argv, *tiny, "--epochs", "1", "--seeds", "0", "1", "--out", str(out)]) == 0
    assert "2 trained" in capsys.readouterr().out
    devices = [json.loads(p.read_text())["device"] for p in out.glob("*/summary.json")]
    assert len(devices) == 2 and all(device.startswith("cuda") for device in devices)
