"""The path later stages stand on: raw files -> prepare -> store -> Dataset/DataLoader -> S2I images."""

import shutil

import torch

from s2i.data import Compose, RandomFlip, RandomRotation, SkeletonDataset, pad_collate
from s2i.encode import S2IConfig, S2IEncoder, dataset_value_range
from s2i.store import SkeletonStore
from s2i.store.prepare import prepare

from helpers import data_path


def test_raw_files_to_image_batches(tmp_path):
    src = data_path("nw_ucla", "all_sqe")
    root = tmp_path / "raw"
    root.mkdir()
    for f in sorted(src.glob("a0[1-4]_s0[1-2]_e00_v0[13].json")):
        shutil.copy(f, root)
    prepare("nw-ucla", root, tmp_path / "store", workers=1, progress=False, dtype="float16")
    store = SkeletonStore(tmp_path / "store")
    train = SkeletonDataset(store, "xview", "train", temporal_crop=(0.6, 1.0), seed=0,
                            transform=Compose([RandomRotation(15), RandomFlip(store.format)]))
    loader = torch.utils.data.DataLoader(train, batch_size=4, shuffle=True, collate_fn=pad_collate,
                                         generator=torch.Generator().manual_seed(0))
    lo, hi = dataset_value_range(store, "xview", S2IConfig(height=64, width=32))
    enc = S2IEncoder(store.format, height=64, width=32, range_lo=lo, range_hi=hi)
    seen = 0
    for batch in loader:
        img = enc(batch["joints"], batch["length"])
        assert img.shape == (batch["joints"].shape[0], 3, 64, 32)
        assert torch.isfinite(img).all() and img.min() >= 0 and img.max() <= 1
        assert img.std() > 0.01  # not a constant image
        seen += img.shape[0]
    assert seen == len(train) == 8
    assert set(SkeletonDataset(store, "xview", "test").store.labels.tolist()) == {0, 1, 2, 3}
