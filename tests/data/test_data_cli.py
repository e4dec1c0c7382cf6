"""``rest data make / info / list`` end to end, and every bad input as a one-line error."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from data_testing import assert_one_line_error, run_cli, write_png


def test_make_builtin_cmnist_then_info_shows_exact_counts(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d"
    code, stdout, err = run_cli(
        ["data", "make", "cmnist", "--conflict-pct", "1", "--out", str(out)], capsys
    )
    assert code == 0, err
    assert "wrote 14000 images of cmnist" in stdout and "counterfactual valid/test" in stdout
    code, stdout, err = run_cli(["data", "info", str(out)], capsys)
    assert code == 0, err
    lines = stdout.splitlines()
    assert "train: 4000 images, 3960 aligned, 40 conflicting (1.00%)" in lines
    assert "valid: 5000 images, 500 aligned, 4500 conflicting (90.00%)" in lines
    assert "test: 5000 images, 500 aligned, 4500 conflicting (90.00%)" in lines
    train = lines.index("train: 4000 images, 3960 aligned, 40 conflicting (1.00%)")
    header, rows = (
        lines[train + 1].split(),
        [line.split() for line in lines[train + 2 : train + 12]],
    )
    assert header == [f"b={b}" for b in range(10)]
    assert rows[0] == ["y=0", "396", "1", "1", "1", "1", "0", "0", "0", "0", "0"]
    assert rows[9] == ["y=9", "1", "1", "1", "1", "0", "0", "0", "0", "0", "396"]
    for split in ("valid", "test"):
        at = lines.index(f"{split}: 5000 images, 500 aligned, 4500 conflicting (90.00%)")
        assert all(line.split()[1:] == ["50"] * 10 for line in lines[at + 2 : at + 12])
    assert "generator: cmnist" in lines and "model: cnn" in lines
    assert "heldout: counterfactual" in lines


def test_info_names_the_published_heldout_protocol(capsys) -> None:
    code, stdout, err = run_cli(["data", "info", "cmnist", "--heldout", "published"], capsys)
    assert code == 0, err
    lines = stdout.splitlines()
    assert "heldout: published" in lines
    at = lines.index("test: 500 images, 50 aligned, 450 conflicting (90.00%)")
    assert all(line.split()[1:] == ["5"] * 10 for line in lines[at + 2 : at + 12])


def test_info_shows_every_ratio_of_a_disent_folder(disent_dir, capsys) -> None:
    code, stdout, _ = run_cli(["data", "info", str(disent_dir("cmnist"))], capsys)
    assert code == 0
    assert "conflict_pct: 0.5" in stdout and "conflict_pct: 1.0" in stdout
    code, stdout, _ = run_cli(
        ["data", "info", str(disent_dir("bffhq", pcts=("0.5",))), "--conflict-pct", "0.5"], capsys
    )
    assert code == 0 and stdout.count("train: 8 images") == 1


def test_info_on_a_named_dataset_with_a_source(idx_source, capsys) -> None:
    source = str(idx_source(per_class=20))
    argv = ["data", "info", "corrupted", "--source", source, "--conflict-pct", "5"]
    code, stdout, _ = run_cli(argv, capsys)
    assert code == 0
    assert "train: 180 images, 170 aligned, 10 conflicting (5.56%)" in stdout
    assert "augment: crop_flip" in stdout


def test_list(capsys) -> None:
    code, stdout, _ = run_cli(["data", "list"], capsys)
    assert code == 0
    for name in (
        "cmnist",
        "cfmnist",
        "corrupted",
        "disent",
        "lff",
        "csv",
        "mnist5k",
        "fashion-mnist",
    ):
        assert name in stdout


# --- bad input: one `rest: error:` line, non-zero exit, nothing written -------------------


def test_missing_directory(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["data", "info", str(tmp_path / "nowhere")], capsys)
    assert_one_line_error(code, err, str(tmp_path / "nowhere"), "no such file or directory")


def test_missing_source_directory_writes_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["data", "make", "cmnist", "--source", str(tmp_path / "nowhere"), "--out", str(out)]
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, str(tmp_path / "nowhere"))
    assert not out.exists()


def test_layout_matching_no_reader(tmp_path: Path, capsys) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    code, _, err = run_cli(["data", "info", str(tmp_path / "junk")], capsys)
    assert_one_line_error(
        code, err, str(tmp_path / "junk"), "matches no known dataset layout", "pct/align"
    )


def test_file_name_without_labels(disent_dir, capsys) -> None:
    root = disent_dir("cmnist", pcts=("1",))
    write_png(root / "1pct" / "align" / "0" / "picture.png", 0, 0)
    code, _, err = run_cli(["data", "info", str(root)], capsys)
    assert_one_line_error(code, err, "picture.png", "_<y>_<b>.png")


def test_corrupt_image(disent_dir, capsys) -> None:
    root = disent_dir("cmnist", pcts=("1",))
    broken = root / "test" / "1" / "99999_1_0.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    code, _, err = run_cli(["data", "info", str(root)], capsys)
    assert_one_line_error(code, err, "cannot read image", str(broken))


def test_conflict_ratio_not_present(disent_dir, capsys) -> None:
    root = disent_dir("cifar10c")
    code, _, err = run_cli(["data", "info", str(root), "--conflict-pct", "5"], capsys)
    assert_one_line_error(code, err, str(root), "5pct", "present: 0.5, 1")


def test_empty_split(disent_dir, capsys) -> None:
    root = disent_dir("cmnist", pcts=("1",))
    for png in (root / "test").rglob("*.png"):
        png.unlink()
    code, _, err = run_cli(["data", "info", str(root)], capsys)
    assert_one_line_error(code, err, "no images in", str(root / "test"))


def test_empty_csv_split(tmp_path: Path, capsys) -> None:
    write_png(tmp_path / "a_0_0.png", 0, 0)
    with (tmp_path / "metadata.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["img_filename", "y", "place", "split"], ["a_0_0.png", 0, 0, 0]])
    code, _, err = run_cli(["data", "info", str(tmp_path)], capsys)
    assert_one_line_error(code, err, "the test split is empty", "metadata.csv")


def test_csv_row_pointing_at_a_missing_image(tmp_path: Path, capsys) -> None:
    with (tmp_path / "metadata.csv").open("w", newline="") as f:
        rows = [
            ["img_filename", "y", "place", "split"],
            ["gone.png", 0, 0, 0],
            ["gone.png", 0, 0, 2],
        ]
        csv.writer(f).writerows(rows)
    code, _, err = run_cli(["data", "info", str(tmp_path)], capsys)
    assert_one_line_error(code, err, str(tmp_path / "gone.png"), "does not exist")


def test_lff_without_valid(tmp_path: Path, capsys) -> None:
    import numpy as np

    (tmp_path / "lff" / "train").mkdir(parents=True)
    np.save(tmp_path / "lff" / "train" / "images.npy", np.zeros((2, 4, 4, 3), np.uint8))
    np.save(tmp_path / "lff" / "train" / "attrs.npy", np.zeros((2, 2), np.int64))
    code, _, err = run_cli(["data", "info", str(tmp_path / "lff")], capsys)
    assert_one_line_error(code, err, str(tmp_path / "lff" / "valid" / "images.npy"), "missing")


@pytest.mark.parametrize("command", ["make", "info"])
def test_unknown_dataset_name(command: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    argv = (
        ["data", "make", "mnistt", "--out", str(out)]
        if command == "make"
        else ["data", "info", "mnistt"]
    )
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, "unknown dataset 'mnistt'", "cfmnist, cmnist, corrupted")
    assert not out.exists()


def test_make_into_non_empty_directory(idx_source, tmp_path: Path, capsys) -> None:
    out = tmp_path / "full"
    out.mkdir()
    (out / "x").write_text("x")
    code, _, err = run_cli(
        ["data", "make", "cmnist", "--source", str(idx_source()), "--out", str(out)], capsys
    )
    assert_one_line_error(code, err, str(out), "--force")
    assert [p.name for p in out.iterdir()] == ["x"]


def test_make_with_bad_severity(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli(["data", "make", "cmnist", "--severity", "7", "--out", str(out)], capsys)
    assert_one_line_error(code, err, "severity", "one of 1, 2, 3, 4, 5")
    assert not out.exists()


def test_info_with_bad_config_value(disent_dir, capsys) -> None:
    code, _, err = run_cli(["data", "info", str(disent_dir("cmnist")), "--image-size", "0"], capsys)
    assert_one_line_error(code, err, "image_size", "[1, 4096], got 0")


def test_info_verify_checks_the_manifest(idx_source, tmp_path: Path, capsys) -> None:
    out = tmp_path / "made"
    argv = ["data", "make", "cmnist", "--source", str(idx_source()), "--out", str(out)]
    assert run_cli(argv, capsys)[0] == 0
    code, stdout, err = run_cli(["data", "info", str(out), "--verify"], capsys)
    assert code == 0, err
    assert stdout.startswith("verified: 690 files match rest-manifest.json (sha256 ")
    changed = next((out / "test").rglob("*.png"))
    changed.write_bytes(changed.read_bytes() + b"\0")
    code, _, err = run_cli(["data", "info", str(out), "--verify"], capsys)
    assert_one_line_error(code, err, "the files do not match rest-manifest.json", "690 files")
    changed.unlink()
    code, _, err = run_cli(["data", "info", str(out), "--verify"], capsys)
    assert_one_line_error(code, err, "(689 files, sha256", "the manifest says 690 files")
    code, _, err = run_cli(["data", "info", "cmnist", "--verify"], capsys)
    assert_one_line_error(code, err, "cmnist is generated in memory")


@pytest.mark.parametrize(
    "flag",
    [
        ["--severity", "2"],
        ["--source", "fashion-mnist"],
        ["--heldout", "published"],
        ["--data-seed", "3"],
    ],
)
def test_a_generator_setting_on_a_dataset_path_is_refused(
    flag: list[str], disent_dir, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    # one epoch, so that a missing check fails fast instead of training for long
    argv = ["train", "--dataset", str(disent_dir("cmnist")), *flag, "--epochs", "1"]
    argv += ["--out", str(out)]
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, f"{flag[0]} is for a generated benchmark", "drop the flag")
    assert not out.exists()


@pytest.mark.parametrize("flag", [["--csv-label-column", "label"], ["--layout", "csv"]])
def test_a_file_setting_on_a_generated_benchmark_is_refused(
    flag: list[str], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--dataset", "cmnist", *flag, "--out", str(out)], capsys)
    assert_one_line_error(code, err, f"{flag[0]} is for a dataset path; cmnist")
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--data-seed", "--seed"])
def test_make_names_the_seed_flag_it_has(flag: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli(["data", "make", "cmnist", flag, "-1", "--out", str(out)], capsys)
    assert_one_line_error(code, err, "(--data-seed)", "got -1")
    assert not out.exists()
