"""Compact checkpoints: only the active weights of masked tensors, masks bit-packed.

A file is a plain ``torch.save`` of nested dicts of tensors, strings and ints, read
back with ``weights_only=True``, so loading never unpickles arbitrary objects. A
masked tensor is stored as its active values (in mask order) plus one bit per
position, so the file shrinks roughly with the density (at density d about
``4d + 1/8`` bytes per float32 weight instead of 4). Everything else is stored
dense. Metadata is any JSON-able dict, stored as JSON text.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from rest.errors import RestError
from rest.runs import save_torch

FORMAT = "rest-compact-checkpoint/1"
_BIT_WEIGHTS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)


def pack_bits(mask: Tensor) -> Tensor:
    """A boolean tensor as uint8 bytes, eight positions per byte, most significant first."""
    flat = mask.detach().reshape(-1).to("cpu", torch.uint8)
    padded = torch.zeros((flat.numel() + 7) // 8 * 8, dtype=torch.uint8)
    padded[: flat.numel()] = flat
    return (padded.view(-1, 8) * _BIT_WEIGHTS).sum(dim=1, dtype=torch.uint8)


def unpack_bits(packed: Tensor, shape: torch.Size) -> Tensor:
    numel = shape.numel()
    bits = packed.view(-1, 1).bitwise_and(_BIT_WEIGHTS).ne(0).view(-1)
    return bits[:numel].view(shape)


def save_compact(
    path: str | os.PathLike, state_dict: dict[str, Tensor], masks: dict[str, Tensor], metadata: dict
) -> None:
    """Write ``state_dict`` with ``masks`` applied compactly; atomic (temp file + rename)."""
    unknown = sorted(set(masks) - set(state_dict))
    if unknown:
        raise ValueError(f"masks for tensors not in the state dict: {', '.join(unknown)}")
    tensors: dict[str, Tensor] = {}
    sparse: dict[str, dict] = {}
    for name, tensor in state_dict.items():
        tensor = tensor.detach().to("cpu")
        if name not in masks:
            tensors[name] = tensor.clone()
            continue
        mask = masks[name].detach().to("cpu", torch.bool)
        if mask.shape != tensor.shape:
            raise ValueError(
                f"mask of {name} has shape {tuple(mask.shape)}, tensor {tuple(tensor.shape)}"
            )
        if torch.count_nonzero(tensor[~mask]):
            raise ValueError(f"{name} has non-zero values outside its mask")
        sparse[name] = {
            "shape": list(tensor.shape),
            "bits": pack_bits(mask),
            "values": tensor[mask].clone(),
        }
    payload = {
        "format": FORMAT,
        "names": list(state_dict),
        "dense": tensors,
        "sparse": sparse,
        "metadata": json.dumps(metadata),
    }
    save_torch(Path(path), payload)


def load_compact(
    path: str | os.PathLike, model: nn.Module | None = None
) -> tuple[dict[str, Tensor], dict[str, Tensor], dict]:
    """Read a compact checkpoint: ``(state_dict, masks, metadata)``, bit-exact.

    With ``model``, the tensor names and shapes are checked against its state dict.
    Any unreadable, truncated or mismatched file raises a one-line :class:`RestError`.
    """
    try:
        with warnings.catch_warnings():  # a damaged file is reported once, as the error below
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RestError(f"checkpoint {path} does not exist") from None
    except Exception as error:  # torch.load raises many types for damaged files
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RestError(
            f"checkpoint {path} cannot be read (corrupt, truncated or not a checkpoint): {reason}"
        ) from None
    try:
        state, masks, metadata = _unpack(payload)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        raise RestError(
            f"checkpoint {path} is not a valid rest compact checkpoint ({error})"
        ) from None
    if model is not None:
        mismatch = _mismatch(state, model.state_dict())
        if mismatch:
            raise RestError(f"checkpoint {path} does not match the model: {mismatch}")
    return state, masks, metadata


def _unpack(payload: object) -> tuple[dict[str, Tensor], dict[str, Tensor], dict]:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"format tag is not {FORMAT!r}")
    state: dict[str, Tensor] = {}
    masks: dict[str, Tensor] = {}
    for name in payload["names"]:
        if name in payload["dense"]:
            state[name] = payload["dense"][name]
            continue
        entry = payload["sparse"][name]
        shape = torch.Size(entry["shape"])
        bits, values = entry["bits"], entry["values"]
        if bits.numel() != (shape.numel() + 7) // 8:
            raise ValueError(f"mask of {name} has {bits.numel()} bytes for shape {tuple(shape)}")
        mask = unpack_bits(bits, shape)
        if int(mask.sum()) != values.numel():
            raise ValueError(f"{name} has {values.numel()} values for {int(mask.sum())} positions")
        tensor = torch.zeros(shape, dtype=values.dtype)
        tensor[mask] = values
        state[name], masks[name] = tensor, mask
    metadata = json.loads(payload["metadata"])
    return state, masks, metadata


def _mismatch(state: dict[str, Tensor], expected: dict[str, Tensor]) -> str:
    """The first few differences between two state dicts' names and shapes, or ''."""

    def some(names: list[str]) -> str:
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return ", ".join(names[:3]) + more

    problems = []
    missing = [n for n in expected if n not in state]
    unexpected = [n for n in state if n not in expected]
    if missing:
        problems.append(f"missing {some(missing)}")
    if unexpected:
        problems.append(f"unexpected {some(unexpected)}")
    shapes = [
        f"{n} is {tuple(state[n].shape)} in the checkpoint "
        f"but {tuple(expected[n].shape)} in the model"
        for n in expected
        if n in state and state[n].shape != expected[n].shape
    ]
    if shapes:
        problems.append(some(shapes))
    return "; ".join(problems)
