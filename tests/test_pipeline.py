"""The path later stages stand on: raw files -> prepare -> store -> Dataset/DataLoader -> S2I images."""

import shutil

import torch

from s2i.data import Compose, RandomFlip, RandomRotation, SkeletonDataset, pad_collate
from s2i.encode import S2IConfig, S2IEncoder, dataset_value_range
from s2i.store import SkeletonStore
from s2i.store.prepare import prepare

from helpers import sample_path


def test_raw_files_to_image_batches(tmp_path):
    src = sample_path("nw_ucla", "all_sqe")
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
    wide = S2IEncoder(store.format, height=64, width=32, value_range="fixed", range_lo=[-1000.0] * 3,
                      range_hi=[1000.0] * 3)
    seen = 0
    for batch in loader:
        img = enc(batch["joints"], batch["length"])
        assert img.shape == (batch["joints"].shape[0], 3, 64, 32)
        # the store's training range is used as given: the same values mapped through a range so wide that
        # nothing clips, then through (lo, hi) by hand; the two agree but where a blend straddles a clip
        v = wide(batch["joints"], batch["length"]).double() * 2000 - 1000
        lo_, hi_ = torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)
        want = ((v - lo_[:, None, None]) / (hi_ - lo_)[:, None, None]).clamp(0, 1)
        # (pixels blended from a clipped and an unclipped value differ: clipping comes before resampling)
        assert ((img.double() - want).abs() > 2e-3).double().mean() < 0.02
        assert img.std() > 0.01  # not a constant image
        seen += img.shape[0]
    assert seen == len(train) == 8
    assert set(SkeletonDataset(store, "xview", "test").store.labels.tolist()) == {0, 1, 2, 3}
