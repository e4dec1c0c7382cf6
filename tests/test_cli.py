"""The train / eval / demo command line: flags, outputs and one-line errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rest.cli import build_parser, main
from rest.config import TrainConfig, field_types
from rest.demo import comparison_table


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("rest: error:")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_every_config_field_has_a_train_flag():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    dests = {action.dest for action in train._actions}
    types = field_types(TrainConfig)
    for section in dataclasses.fields(TrainConfig):
        if dataclasses.is_dataclass(types[section.name]):
            for field in dataclasses.fields(types[section.name]):
                assert f"{section.name}.{field.name}" in dests
    assert "method" in dests


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--density", "1.5"], ["density", "(0, 1]"]),
        (["--density", "0"], ["density"]),
        (["--lambda-up", "0.5"], ["--lambda-up", "at least 1"]),
        (["--epochs", "0"], ["--epochs"]),
        (["--config", "does-not-exist.json"], ["does-not-exist.json", "does not exist"]),
        (["--strategy", "nope"], ["nope", "rigl"]),
        (["--method", "erm", "--density", "0.1"], ["erm", "--density", "dense"]),
    ],
)
def test_train_rejects_bad_settings_in_one_line(capsys, tmp_path, argv, fragments):
    code, _, err = run_cli(capsys, "train", "--out", str(tmp_path / "run"), *argv)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--method", "erm", "--lambda-up", "80"], ["'erm'", "--lambda-up", "rest, reweight"]),
        (["--method", "erm", "--reweight-by", "sampler"], ["'erm'", "--reweight-by"]),
        (["--method", "groupdro", "--lambda-up", "80"], ["'groupdro'", "--lambda-up"]),
        (["--method", "groupdro", "--reweight-by", "loss"], ["'groupdro'", "--reweight-by"]),
        (["--method", "rest", "--groupdro-eta", "0.1"], ["'rest'", "--groupdro-eta", "groupdro"]),
        (["--method", "jtt", "--gce-q", "0.5"], ["'jtt'", "--gce-q", "lff"]),
        (["--method", "rest", "--infer-epochs", "3"], ["labels", "--infer-epochs", "jtt or gce"]),
        (["--strategy", "static", "--alpha", "0.3"], ["'static'", "--alpha", "rigl, set"]),
        (["--strategy", "snip", "--update-frequency", "5"], ["'snip'", "--update-frequency"]),
        (["--strategy", "grasp", "--alpha", "0.5"], ["'grasp'", "--alpha"]),
        (["--strategy", "static", "--update-order", "before-step"], ["--update-order"]),
    ],
)
def test_train_rejects_a_field_the_method_does_not_read(capsys, tmp_path, argv, fragments):
    """Even at its default value: an explicit flag that does nothing is a mistake. (The
    missing dataset makes a run that slips past the check fail fast, with another error.)"""
    missing = ["--dataset", str(tmp_path / "missing")]
    code, _, err = run_cli(capsys, "train", "--out", str(tmp_path / "run"), *missing, *argv)
    assert_one_line_error(code, err, "does not read", *fragments)
    assert not (tmp_path / "run").exists()


def test_config_file_field_the_method_does_not_read_is_rejected(capsys, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"method": "erm", "data": {"dataset": str(tmp_path)}, "reweight": {"lambda_up": 80}}
        )
    )
    code, _, err = run_cli(capsys, "train", "--config", str(config), "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, "'erm'", "does not read --lambda-up")
    assert not (tmp_path / "r").exists()


def test_unknown_config_key_is_named(capsys, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"optim": {"learning_rate": 0.1}}))
    code, _, err = run_cli(capsys, "train", "--config", str(config))
    assert_one_line_error(code, err, "learning_rate", "lr")


def test_unknown_method_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--method", "magic"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "magic" in err and "rest" in err and "groupdro" in err


def test_config_file_and_flags_combine(tmp_path):
    from rest.cli.options import config_from_args

    config_file = tmp_path / "config.json"
    config_file.write_text(
        json.dumps({"method": "rest", "sparse": {"density": 0.05}, "optim": {"lr": 0.3}})
    )
    args = build_parser().parse_args(["train", "--config", str(config_file), "--lr", "0.2"])
    config = config_from_args(args)
    assert config.method == "rest"
    assert config.sparse.density == 0.05
    assert config.optim.lr == 0.2
    args = build_parser().parse_args(
        ["train", "--update-frequency", "auto", "--no-dense-last-layer"]
    )
    config = config_from_args(args)
    assert config.sparse.update_frequency is None and config.sparse.dense_last_layer is False


def test_train_then_eval_on_builtin_colored_mnist(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        capsys,
        "train",
        "--method",
        "rest",
        "--density",
        "0.2",
        "--dataset",
        "cmnist",
        "--epochs",
        "1",
        "--width",
        "8",
        "--no-progress",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert "conflicting" in stdout and "non-zero parameters" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"].startswith("cmnist") and summary["density"] == 0.2

    code, stdout, err = run_cli(capsys, "eval", str(out / "checkpoints" / "best.pt"), "--json")
    assert code == 0, err
    results = json.loads(stdout)
    assert results["test"]["accuracy"] == pytest.approx(summary["selected"]["test"]["accuracy"])

    code, _, err = run_cli(
        capsys, "eval", str(out / "checkpoints" / "best.pt"), "--data", "cfmnist-missing"
    )
    assert code != 0 and "Traceback" not in err


def test_eval_rejects_missing_and_corrupt_checkpoints(capsys, tmp_path):
    code, _, err = run_cli(capsys, "eval", str(tmp_path / "nope.pt"))
    assert_one_line_error(code, err, "nope.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    code, _, err = run_cli(capsys, "eval", str(corrupt))
    assert_one_line_error(code, err, "corrupt.pt")


def test_eval_rejects_a_checkpoint_whose_weights_do_not_fit_its_model(capsys, tmp_path):
    from rest.engine import CHECKPOINT_FORMAT
    from rest.models import build_model
    from rest.sparse import save_compact

    mlp = build_model("mlp", 10, (3, 28, 28), 16)
    path = tmp_path / "mismatch.pt"
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "model": "cnn",
        "width": 8,
        "num_classes": 10,
        "input_shape": [3, 28, 28],
        "config": {"data": {}},
    }
    save_compact(path, mlp.state_dict(), {}, metadata)
    code, _, err = run_cli(capsys, "eval", str(path))
    assert_one_line_error(code, err, "mismatch.pt", "cnn")


def test_demo_table_lists_both_runs():
    summary = {
        "density": 0.1,
        "selected": {
            "test": {"aligned": 0.99, "conflicting": 0.5, "unbiased": 0.55, "worst_group": 0.2}
        },
        "size": {"nonzeros": 12345},
        "flops": {"inference": {"sparse": 2.5e6}},
        "time": {"total_seconds": 12.0},
    }
    table = comparison_table({"erm": {**summary, "density": 1.0}, "rest-d0.1": summary})
    lines = table.splitlines()
    assert lines[0].startswith("| run")
    assert "| erm " in lines[2] and "50.0" in lines[3] and "12.3k" in lines[3]
