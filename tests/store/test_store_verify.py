"""Stores are checked when opened and verified on demand (issue 12, item 9)."""

import json

import numpy as np
import pytest

from s2i import SkeletonSequence
from s2i.cli import main
from s2i.data import SkeletonDataset
from s2i.store import SkeletonStore, StoreError, StoreWriter

from helpers import synthetic_ntu


@pytest.fixture
def store(tmp_path):
    """A 4-sequence ntu25 store with class names (labels 0..2) and one split."""
    with StoreWriter(tmp_path / "st", "ntu25", 3, 25) as w:
        for i in range(4):
            j = synthetic_ntu(1, 10 + i, 1 + i % 2, seed=i)[0]
            w.append(SkeletonSequence(j, "ntu25", meta={"label": i % 3, "name": f"s{i}"}))
        w.finalize({"xsub": {"train": [0, 1], "test": [2, 3]}},
                   {"dataset": "synthetic", "class_names": ["a", "b", "c"]}, {})
    return tmp_path / "st"


def edit_index(path, fn):
    idx = np.load(path / "index.npy")
    fn(idx)
    np.save(path / "index.npy", idx)


def edit_manifest(path, **kv):
    mf = json.loads((path / "manifest.json").read_text())
    mf.update(kv)
    (path / "manifest.json").write_text(json.dumps(mf))


def test_intact_store_verifies(store):
    res = SkeletonStore(store).verify()
    assert res.ok and res.actual == res.expected and res.bytes_read > 4 * 10 * 25 * 3 * 4


def test_inspect_verify_catches_a_flipped_byte_in_the_frames_file(store, capsys):
    assert main(["inspect", str(store), "--verify"]) == 0
    assert "verified: content hash matches" in capsys.readouterr().out
    with open(store / "joints.bin", "r+b") as f:
        f.seek(1234)
        b = f.read(1)
        f.seek(1234)
        f.write(bytes([b[0] ^ 0x10]))
    assert main(["inspect", str(store), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "content hash mismatch" in err and str(store) in err


def test_shifted_offset_is_refused_naming_index_and_field(store):
    edit_index(store, lambda idx: idx.__setitem__(2, (idx[2]["offset"] + 1, *list(idx[2])[1:])))
    with pytest.raises(StoreError, match=r"index.npy: sequence 2: field 'offset' is \d+, expected"):
        SkeletonStore(store)


def test_smaller_frame_count_is_refused(store):
    def shrink(idx):
        idx["frames"][1] -= 3
    edit_index(store, shrink)
    with pytest.raises(StoreError, match="index.npy: sequence 2: field 'offset'"):
        SkeletonStore(store)


def test_label_outside_the_class_list_is_refused(store):
    def relabel(idx):
        idx["label"][3] = 999
    edit_index(store, relabel)
    with pytest.raises(StoreError, match=r"sequence 3: field 'label' is 999, outside the 3 classes"):
        SkeletonStore(store)


def test_shortened_index_is_refused(store):
    np.save(store / "index.npy", np.load(store / "index.npy")[:3])
    with pytest.raises(StoreError, match="index.npy: 3 entries but manifest.json field 'sequences' says 4"):
        SkeletonStore(store)


def test_index_of_another_dtype_is_refused(store):
    np.save(store / "index.npy", np.zeros(4, np.int64))
    with pytest.raises(StoreError, match="index.npy: expected a 1-D array"):
        SkeletonStore(store)


def test_relabelled_dtype_is_refused(store):
    edit_manifest(store, dtype="float16")
    with pytest.raises(StoreError, match="joints.bin: .* bytes, expected .* 'dtype'"):
        SkeletonStore(store)
    edit_manifest(store, dtype="int8")
    with pytest.raises(StoreError, match="manifest.json: field 'dtype' must be one of"):
        SkeletonStore(store)


def test_relabelled_format_is_refused(store):
    edit_manifest(store, format="kinect_v1")
    with pytest.raises(StoreError, match="field 'format' is 'kinect_v1' \\(20 joints, 3D\\)"):
        SkeletonStore(store)


@pytest.mark.parametrize("splits, message", [
    ('{"xsub": {"train": [0, 1], "test": [2, 7]}}', "xsub/test: sequence id 7 is outside 0..3"),
    ('{"xsub": [0, 1]}', "split 'xsub' must be an object"),
    ('["xsub"]', "expected an object"),
    ('{"xsub": {"train": [0, 1', "splits.json:1: invalid JSON"),
])
def test_malformed_splits_give_a_store_error_naming_the_file(store, splits, message):
    (store / "splits.json").write_text(splits)
    st = SkeletonStore(store)
    with pytest.raises(StoreError, match=message):
        st.split_ids("xsub", "train")


def test_dataset_on_a_damaged_store_fails_at_open_not_with_garbage(store):
    edit_index(store, lambda idx: idx.__setitem__(0, (0, 1, 5, 0)))  # frames 10 -> 5: the rest shifts
    with pytest.raises(StoreError, match="field 'offset'"):
        SkeletonDataset(SkeletonStore(store))


def test_meta_with_missing_lines_is_refused(store):
    lines = (store / "meta.jsonl").read_text().splitlines()
    (store / "meta.jsonl").write_text("\n".join(lines[:2]) + "\n")
    with pytest.raises(StoreError, match="meta.jsonl: 2 lines, expected one JSON object per sequence \\(4\\)"):
        _ = SkeletonStore(store).meta

