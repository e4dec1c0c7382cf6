"""Compact checkpoints: bit-exact round trip, size, safe loading, one-line errors."""

from __future__ import annotations

import copy
import os

import pytest
import torch
from sparse_testing import batch, small_model, sparse_setup, train_step

from rest.errors import RestError
from rest.models import build_model
from rest.sparse import SparseConfig, SparseTraining, load_compact, save_compact
from rest.sparse.checkpoint import FORMAT, pack_bits, unpack_bits

METADATA = {"model": "cnn", "density": 0.1, "epochs": [1, 2], "nested": {"ok": True}}


def bits(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor's raw bytes, so -0.0 and +0.0 (or NaN payloads) count as different."""
    return tensor.reshape(-1).contiguous().view(torch.uint8)


@pytest.fixture
def trained():
    model, sparse, optimizer = sparse_setup(
        "cnn", total_steps=6, strategy="set", update_frequency=2
    )
    data = batch("cnn")
    for step in range(6):
        train_step(model, sparse, optimizer, data, step)
    return model, sparse


def test_round_trip_is_bit_exact(tmp_path, trained):
    model, sparse = trained
    path = tmp_path / "model.pt"
    state = model.state_dict()
    save_compact(path, state, sparse.masks, METADATA)
    loaded, masks, metadata = load_compact(path, model=model)
    assert list(loaded) == list(state)
    for name, tensor in state.items():
        assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape
        assert torch.equal(bits(loaded[name]), bits(tensor)), name
    assert set(masks) == set(sparse.masks)
    for name, mask in masks.items():
        assert torch.equal(mask, sparse.masks[name])
    assert metadata == METADATA
    assert not list(tmp_path.glob("*.tmp"))


def test_file_size_follows_density(tmp_path):
    model = build_model("resnet18", 10, (3, 32, 32), 16)  # 0.7 M parameters
    sparse = SparseTraining(model, SparseConfig(density=0.05), total_steps=10, seed=0)
    dense_path, compact_path = tmp_path / "dense.pt", tmp_path / "compact.pt"
    torch.save(model.state_dict(), dense_path)
    save_compact(compact_path, model.state_dict(), sparse.masks, {})
    ratio = os.path.getsize(compact_path) / os.path.getsize(dense_path)
    # ERK keeps the stem, shortcuts and classifier denser; values + 1 bit per weight
    assert ratio < 0.15, ratio


@pytest.mark.parametrize("numel", [1, 7, 8, 9, 100])
def test_bit_packing_round_trip(numel):
    mask = torch.rand(numel, generator=torch.Generator().manual_seed(numel)) > 0.5
    packed = pack_bits(mask)
    assert packed.dtype == torch.uint8 and packed.numel() == (numel + 7) // 8
    assert torch.equal(unpack_bits(packed, mask.shape), mask)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    with pytest.raises(RestError) as caught:
        load_compact(tmp_path / "nope.pt")
    assert "nope.pt does not exist" in one_line(caught)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_or_truncated_file(tmp_path, trained, damage):
    model, sparse = trained
    path = tmp_path / "model.pt"
    save_compact(path, model.state_dict(), sparse.masks, METADATA)
    data = path.read_bytes()
    damaged = {"garbage": bytes(range(256)) * 64, "truncated": data[: len(data) // 2], "empty": b""}
    path.write_bytes(damaged[damage])
    with pytest.raises(RestError) as caught:
        load_compact(path)
    assert str(path) in one_line(caught)


def test_not_a_compact_checkpoint(tmp_path, trained):
    model, _ = trained
    path = tmp_path / "plain.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(RestError) as caught:
        load_compact(path)
    assert "not a valid rest compact checkpoint" in one_line(caught)


def test_inconsistent_values_are_reported(tmp_path, trained):
    model, sparse = trained
    path = tmp_path / "model.pt"
    save_compact(path, model.state_dict(), sparse.masks, {})
    payload = torch.load(path, weights_only=True)
    name = next(iter(payload["sparse"]))
    payload["sparse"][name]["values"] = payload["sparse"][name]["values"][:-1]
    torch.save(payload, path)
    with pytest.raises(RestError) as caught:
        load_compact(path)
    assert name in one_line(caught) and str(path) in one_line(caught)


def test_mismatch_with_the_model_names_path_and_tensor(tmp_path, trained):
    model, sparse = trained
    path = tmp_path / "model.pt"
    save_compact(path, model.state_dict(), sparse.masks, {})
    wider = build_model("cnn", 10, (3, 28, 28), 16)
    with pytest.raises(RestError) as caught:
        load_compact(path, model=wider)
    message = one_line(caught)
    assert (
        str(path) in message and "features.0.0.weight is (8, 3, 4, 4) in the checkpoint" in message
    )
    other = small_model("mlp")
    with pytest.raises(RestError) as caught:
        load_compact(path, model=other)
    assert "missing" in one_line(caught) and "unexpected" in one_line(caught)


SIDE_EFFECTS: list[str] = []


class Payload:
    def __reduce__(self):
        return (SIDE_EFFECTS.append, ("unpickled",))


def test_loading_never_unpickles_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "names": [], "dense": {}, "sparse": {}, "x": Payload()}, path)
    with pytest.raises(RestError) as caught:
        load_compact(path)
    assert str(path) in one_line(caught)
    assert SIDE_EFFECTS == []


def test_save_refuses_weights_outside_the_mask(tmp_path, trained):
    model, sparse = trained
    state = copy.deepcopy(model.state_dict())
    name, mask = next(iter(sparse.masks.items()))
    state[name][~mask] = 1.0
    with pytest.raises(ValueError, match="outside its mask"):
        save_compact(tmp_path / "x.pt", state, sparse.masks, {})
