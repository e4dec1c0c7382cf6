from __future__ import annotations

import torch

from rest.loader import BatchLoader, random_crop_flip, to_model_input


def test_to_model_input_scales_uint8_to_unit_range():
    images = torch.tensor([[[[0, 255], [51, 102]]]], dtype=torch.uint8)
    out = to_model_input(images, torch.device("cpu"))
    assert out.dtype == torch.float32
    assert torch.allclose(out, torch.tensor([[[[0.0, 1.0], [0.2, 0.4]]]]))


def test_crop_flip_is_a_shifted_or_mirrored_window_of_the_padded_image():
    images = torch.rand(64, 3, 8, 8)
    out = random_crop_flip(images, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    flipped = 0
    for i in range(64):
        windows = [padded[i, :, r : r + 8, c : c + 8] for r in range(5) for c in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i], w.flip(-1)) for w in windows)
        assert plain or mirrored
        flipped += int(mirrored and not plain)
    assert 10 < flipped < 54  # about half are mirrored


def test_epoch_covers_every_sample_once_without_weights(tiny_splits):
    loader = BatchLoader(
        tiny_splits.train, 64, torch.device("cpu"), torch.Generator().manual_seed(0)
    )
    indices = torch.cat([batch.indices for batch in loader])
    assert sorted(indices.tolist()) == list(range(len(tiny_splits.train)))
    batch = next(iter(loader))
    assert torch.equal(batch.targets, tiny_splits.train.targets[batch.indices])
    assert torch.equal(batch.groups, tiny_splits.train.group_ids[batch.indices])
    assert len(loader) == 5
