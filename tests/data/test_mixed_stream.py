"""The mixed-store stream: a function of (seed, position), rank slices partition each global batch,
per-store weights, start at any batch, collation grouped by format."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from s2i.data.mixed import StepBatchSampler, collate_by_format, stream_keys


def test_epochs_are_seeded_permutations_of_every_item():
    keys = stream_keys([3, 5], epoch=0, seed=1)
    assert sorted(keys) == [(0, i) for i in range(3)] + [(1, i) for i in range(5)]
    assert keys == stream_keys([3, 5], epoch=0, seed=1)
    assert keys != stream_keys([3, 5], epoch=1, seed=1) and keys != stream_keys([3, 5], epoch=0, seed=2)


def test_weights_set_store_proportions():
    keys = stream_keys([10, 10], epoch=0, seed=0, weights=[1, 3]) * 1
    keys = [k for e in range(20) for k in stream_keys([10, 10], e, 0, weights=[1, 3])]
    share = Counter(s for s, _ in keys)[1] / len(keys)
    assert 0.7 < share < 0.8
    with pytest.raises(ValueError, match="2 stores"):
        StepBatchSampler([1, 2], 2, 4, weights=[1.0])


def test_ranks_partition_global_batches_and_start_skips():
    full = StepBatchSampler([7, 6], batch_size=3, num_batches=6, seed=0)
    ranks = [StepBatchSampler([7, 6], 3, 3, seed=0, rank=r, world_size=2) for r in range(2)]
    single = [k for b in full for k in b]
    both = [k for b in range(3) for r in ranks for k in r.batch(b)]
    assert both == single  # rank slices of global batch b, in rank order, are the 1-process stream
    late = StepBatchSampler([7, 6], 3, 6, seed=0, start=lambda: 4)
    assert list(late) == list(full)[4:] and len(late) == 6
    assert {p for b in full for _, _, p in b} == set(range(18))  # positions run across virtual epochs


def test_collate_groups_by_format_in_a_fixed_order():
    def item(source, t, position):
        return {"joints": torch.zeros(2, t, 20 if source else 25, 3), "length": t, "label": 0, "index": position,
                "source": source, "position": position}

    items = [item(1, 5, 8), item(0, 4, 9), item(1, 7, 10), item(0, 3, 11)]
    out = collate_by_format(items, ["ntu25", "kinect_v1"], batch_size=4)
    assert list(out["formats"]) == ["ntu25", "kinect_v1"] and out["batch"] == 2
    assert out["formats"]["kinect_v1"]["joints"].shape == (2, 2, 7, 20, 3)
    assert out["formats"]["ntu25"]["position"].tolist() == [9, 11]
