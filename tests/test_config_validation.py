"""Every config field's type and range, checked once for flags, files and the Python API."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from rest.cli import main
from rest.config import TrainConfig, field_types
from rest.errors import RestError
from rest.validation import _unwrap_optional


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("rest: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('{"optim": {"epochs": "10"}}', ["optim.epochs", "a positive integer", "got '10'"]),
        ('{"optim": {"epochs": 1.7}}', ["optim.epochs", "a positive integer", "got 1.7"]),
        ('{"optim": {"batch_size": 64.5}}', ["optim.batch_size", "got 64.5"]),
        ('{"optim": {"epochs": true}}', ["optim.epochs", "got True"]),
        ('{"data": {"dataset": 5}}', ["data.dataset", "a text value", "got 5"]),
        ('{"data": {"severity": "4"}}', ["data.severity", "one of 1, 2, 3, 4, 5"]),
        ('{"sparse": {"dense_last_layer": 1}}', ["sparse.dense_last_layer", "true or false"]),
        ('{"optim": {"lr": NaN}}', ["optim.lr", "a positive number", "got nan"]),
        ('{"reweight": {"lambda_up": Infinity}}', ["reweight.lambda_up", "at least 1"]),
        ('{"run": {"seed": -1}}', ["run.seed", "[0, 4294967295]"]),
        ('{"optim": {"momentum": null}}', ["optim.momentum", "got nothing"]),
        ('{"sparse": {"alpha": [0.5]}}', ["sparse.alpha", "(0, 1)"]),
    ],
)
def test_config_file_values_of_the_wrong_type_are_named(capsys, tmp_path, text, fragments):
    config = tmp_path / "config.json"
    config.write_text(text)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--config", str(config), "--out", str(out))
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--lambda-up", "nan"], ["--lambda-up", "a number of at least 1", "got nan"]),
        (["--lambda-up", "inf"], ["--lambda-up", "got inf"]),
        (["--lr", "nan"], ["--lr", "a positive number"]),
        (["--plateau-factor", "2"], ["--plateau-factor", "a number in (0, 1)", "got 2"]),
        (["--plateau-patience", "-1"], ["--plateau-patience", "a non-negative integer"]),
        (["--image-size", "100000"], ["--image-size", "an integer in [1, 4096]"]),
        (["--epochs", "1.7"], ["optim.epochs (--epochs): expected a positive integer, got 1.7"]),
        (["--batch-size", "ten"], ["--batch-size", "got 'ten'"]),
        (["--gce-q", "0"], ["--gce-q", "(0, 1]"]),
        (["--momentum", "1"], ["--momentum", "[0, 1)"]),
        (["--checkpoint-every", "0"], ["--checkpoint-every", "a positive integer"]),
        (["--width", "-8"], ["model.width", "[1, 4096]"]),
        (["--device", "cuda:x"], ["cuda:x", "cuda:N"]),
        (["--optimizer", "rmsprop"], ["optim.optimizer (--optimizer)", "sgd, adam", "'rmsprop'"]),
    ],
)
def test_out_of_range_flags_are_refused_before_any_work(capsys, tmp_path, argv, fragments):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--out", str(out), *argv)
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()


def test_an_optional_choice_takes_auto_for_its_default(capsys, tmp_path):
    """``--optimizer auto`` asks for the method's published optimizer (the field's None)."""
    argv = ["--dry-run", "--methods", "erm", "--out", str(tmp_path)]
    code, out, err = run_cli(capsys, "sweep", *argv, "--optimizer", "auto")
    assert (code, err) == (0, "") and "1 runs in" in out


def test_sweep_dry_run_refuses_what_the_sweep_would(capsys, tmp_path):
    for argv in (["--workers", "-1"], ["--lambda-up", "nan"]):
        code, out, err = run_cli(capsys, "sweep", "--dry-run", "--out", str(tmp_path), *argv)
        assert_one_line_error(code, err, argv[0])
        assert out == ""  # no plan printed


def test_data_info_refuses_an_absurd_image_size(capsys, tmp_path):
    code, _, err = run_cli(capsys, "data", "info", "cmnist", "--image-size", "100000")
    assert_one_line_error(code, err, "data.image_size", "[1, 4096]")


def test_config_file_that_is_not_utf8(capsys, tmp_path):
    config = tmp_path / "config.json"
    config.write_bytes(b'{"method": "r\xffst"}')
    code, _, err = run_cli(capsys, "train", "--config", str(config), "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, str(config), "not UTF-8", "0xff")


def test_config_file_that_is_a_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--config", str(tmp_path), "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, str(tmp_path), "directory")


def test_integral_floats_mean_integers_and_ints_mean_floats():
    """Documented choice: 3.0 in a JSON file is the integer 3 (stored as an int); 1 is 1.0."""
    config = TrainConfig.from_dict({"optim": {"epochs": 3.0, "lr": 1}, "sparse": {"density": 1}})
    assert config.optim.epochs == 3 and type(config.optim.epochs) is int
    assert config.optim.lr == 1.0 and type(config.optim.lr) is float
    assert type(config.sparse.density) is float
    assert json.loads(json.dumps(config.to_dict()))["optim"]["epochs"] == 3


def _numeric_fields() -> list[tuple[str, str, type]]:
    """(section, field, int or float) of every numeric field of every section, found at
    run time: a field another module adds later is covered by the tests below."""
    found = []
    sections = field_types(TrainConfig)
    for section in dataclasses.fields(TrainConfig):
        kind = sections[section.name]
        if not dataclasses.is_dataclass(kind):
            continue
        hints = typing.get_type_hints(kind)
        for spec in dataclasses.fields(kind):
            base, _ = _unwrap_optional(hints[spec.name])
            if base in (int, float):
                found.append((section.name, spec.name, base))
    return found


NUMERIC_FIELDS = _numeric_fields()


def test_numeric_fields_are_found():
    names = {f"{section}.{name}" for section, name, _ in NUMERIC_FIELDS}
    assert {"optim.epochs", "sparse.density", "data.image_size", "run.seed"} <= names


@pytest.mark.parametrize(("section", "name", "kind"), NUMERIC_FIELDS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), True, "1", -1e12])
def test_every_numeric_field_refuses_non_numbers_and_non_finite_values(section, name, kind, bad):
    """Every numeric field refuses NaN, infinities, booleans and text, and has a range
    (-1e12: every field has a range with a lower bound), with a message naming the field."""
    with pytest.raises(RestError) as caught:
        TrainConfig.from_dict({section: {name: bad}})
    message = str(caught.value)
    assert message.startswith(f"{section}.{name} (--{name.replace('_', '-')}): expected ")
    assert "\n" not in message


def test_every_field_of_a_section_built_in_python_is_checked_too():
    from rest.config import OptimConfig
    from rest.data.config import DataConfig
    from rest.sparse.config import SparseConfig

    with pytest.raises(RestError, match=r"optim\.epochs.*got 1\.7"):
        OptimConfig(epochs=1.7)  # type: ignore[arg-type]
    with pytest.raises(RestError, match=r"data\.severity.*one of"):
        DataConfig(severity=4.5)  # type: ignore[arg-type]
    with pytest.raises(RestError, match=r"sparse\.target_updates"):
        SparseConfig(target_updates=False)  # type: ignore[arg-type]
    with pytest.raises(RestError, match=r"^method \(--method\): expected a text value"):
        TrainConfig(method=3)  # type: ignore[arg-type]
