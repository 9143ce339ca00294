"""What a store holds, file by file and value by value (issue 18): the bytes of joints.bin and confidence.bin,
the index, the metadata lines, splits and manifest in their one canonical form, the content hash in the
documented order, and what :class:`SkeletonStore` hands back (dtypes, ids, errors with their whole text)."""

import hashlib
import json
import os
import pickle
import socket

import numpy as np
import pytest

from s2i import SkeletonSequence
from s2i.formats import FormatSpec, get_format
from s2i.store import SkeletonStore, StoreError, StoreWriter
from s2i.store.layout import INDEX_DTYPE, jsonable
from s2i.store.lock import lock_path


def two_sequences():
    """coco17: a labelled 2-person, 3-frame sequence with fps and numpy metadata; an unlabelled 1 x 2 one."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 3, 17, 2)).astype(np.float32)
    a[1, 2, 4] = np.nan
    ca = rng.uniform(0.1, 1, size=(2, 3, 17)).astype(np.float32)
    b = rng.normal(size=(1, 2, 17, 2)).astype(np.float32)
    return [SkeletonSequence(a, "coco17", confidence=ca, fps=25.0,
                             meta={"name": "a", "label": np.int64(4), "subject": np.int32(3), "zeta": 1.5}),
            SkeletonSequence(b, "coco17", meta={"name": "b", "view": [np.float32(0.5)]})]


def write(out, seqs, fmt="coco17", splits=None, manifest=None, report=None, **kw):
    with StoreWriter(out, fmt, 2, 17, **kw) as w:
        ids = [w.append(s) for s in seqs]
        lengths = w.lengths()
        w.finalize(splits or {}, manifest or {}, report or {})
    return ids, lengths


def test_files_hold_the_rows_index_lines_and_hash_in_the_documented_order(tmp_path):
    seqs = two_sequences()
    out = tmp_path / "deep" / "er" / "st"  # parent folders are created
    splits = {"xsub": {"train": [np.int64(1), 0], "test": []}, "all": {"train": [0, 1]}}
    report = {"files": np.int64(2), "failed": [("x.json", "bad")]}
    ids, lengths = write(out, seqs, splits=splits, manifest={"dataset": "toy", "scale": np.float32(0.25)},
                         report=report, with_confidence=True)
    assert ids == [0, 1] and lengths.tolist() == [3, 2] and lengths.dtype == np.int64
    a, b = seqs
    joints = a.joints.tobytes() + b.joints.tobytes()
    conf = a.confidence.tobytes() + b.valid.astype(np.float32).tobytes()
    assert (out / "joints.bin").read_bytes() == joints
    assert (out / "confidence.bin").read_bytes() == conf
    index = np.load(out / "index.npy")
    assert index.dtype == INDEX_DTYPE and index.dtype.names == ("offset", "persons", "frames", "label")
    assert index.tolist() == [(0, 2, 3, 4), (6, 1, 2, -1)]
    lines = ['{"fps": 25.0, "label": 4, "name": "a", "subject": 3, "zeta": 1.5}', '{"name": "b", "view": [0.5]}']
    assert (out / "meta.jsonl").read_text() == "".join(line + "\n" for line in lines)
    splits_text = '{"all": {"train": [0, 1]}, "xsub": {"test": [], "train": [1, 0]}}'
    assert (out / "splits.json").read_text() == splits_text
    h = hashlib.sha256()
    for s, line in zip(seqs, lines):
        h.update(s.joints.tobytes())
        h.update((s.confidence if s.confidence is not None else s.valid.astype(np.float32)).tobytes())
        h.update(line.encode())
    h.update(index.tobytes())
    h.update(splits_text.encode())
    manifest = {"store_version": 1, "format": "coco17", "dims": 2, "num_joints": 17, "dtype": "float32",
                "confidence": True, "sequences": 2, "rows": 8, "content_hash": "sha256:" + h.hexdigest(),
                "dataset": "toy", "scale": 0.25}
    # one canonical form (sorted keys, 2-space indent), so the manifests of two runs diff line by line
    assert (out / "manifest.json").read_text() == json.dumps(manifest, indent=2, sort_keys=True)
    assert (out / "report.json").read_text() == json.dumps({"files": 2, "failed": [["x.json", "bad"]]}, indent=2)
    assert not (out / "format.yaml").exists()
    st = SkeletonStore(out)
    assert st.verify().ok and st.format_spec == get_format("coco17")
    assert sorted(p.name for p in tmp_path.joinpath("deep", "er").iterdir()) == ["st"]  # no partial, no lock


def test_a_store_without_confidence_writes_no_confidence_file(tmp_path):
    write(tmp_path / "st", two_sequences())
    assert not (tmp_path / "st" / "confidence.bin").exists()
    assert json.loads((tmp_path / "st" / "manifest.json").read_text())["confidence"] is False


def test_float16_stores_hold_float16_and_read_back_float32(tmp_path):
    seqs = two_sequences()
    write(tmp_path / "st", seqs, dtype="float16", with_confidence=True)
    assert (tmp_path / "st" / "joints.bin").read_bytes() == b"".join(s.joints.astype(np.float16).tobytes()
                                                                      for s in seqs)
    st = SkeletonStore(tmp_path / "st")
    assert st.manifest["dtype"] == "float16"
    for i, s in enumerate(seqs):
        assert st.joints(i).dtype == np.float32 and st.confidence(i).dtype == np.float32
        np.testing.assert_array_equal(st.joints(i), s.joints.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("dtype", ["float64", "int16", "FLOAT32"])
def test_other_store_dtypes_are_refused(tmp_path, dtype):
    with pytest.raises(ValueError) as e:
        StoreWriter(tmp_path / "st", "coco17", 2, 17, dtype=dtype)
    assert str(e.value) == f"store dtype must be float16 or float32, got {dtype!r}"
    assert list(tmp_path.iterdir()) == []


def test_a_custom_format_travels_with_the_store_and_in_its_hash(tmp_path):
    spec = FormatSpec.from_dict({**get_format("coco17").to_dict(), "name": "tri17", "description": "mine"})
    write(tmp_path / "st", two_sequences(), fmt=spec)
    out = tmp_path / "st"
    assert (out / "format.yaml").read_text(encoding="utf-8") == spec.to_yaml()
    mf = json.loads((out / "manifest.json").read_text())
    assert mf["format"] == "tri17" and mf["format_file"] == "format.yaml"
    st = SkeletonStore(out)
    assert st.format == "tri17" and st.format_spec.to_dict() == spec.to_dict() and st[1].format == "tri17"
    assert st.verify().ok
    # the same data under a built-in name: another hash (the spec text is part of the content)
    write(tmp_path / "plain", two_sequences())
    assert "format_file" not in json.loads((tmp_path / "plain" / "manifest.json").read_text())
    assert mf["content_hash"] != json.loads((tmp_path / "plain" / "manifest.json").read_text())["content_hash"]


@pytest.mark.parametrize("shape, got", [((1, 2, 25, 3), "(V=25, C=3)"), ((1, 2, 17, 3), "(V=17, C=3)"),
                                        ((1, 2, 25, 2), "(V=25, C=2)")])
def test_a_sequence_of_another_shape_is_refused_naming_its_source(tmp_path, shape, got):
    with StoreWriter(tmp_path / "st", "coco17", 2, 17) as w:
        seq = SkeletonSequence(np.zeros(shape, np.float32), "x", meta={"source": "clips/x.json"})
        with pytest.raises(StoreError) as e:
            w.append(seq)
        assert str(e.value) == f"clips/x.json: store holds (V=17, C=2), got {got}"
        seq.meta.pop("source")
        with pytest.raises(StoreError) as e:
            w.append(seq)
        assert str(e.value) == f"sequence: store holds (V=17, C=2), got {got}"
        assert len(w) == 0


def test_the_stats_hook_sees_the_complete_store_and_adds_to_the_stats(tmp_path):
    seen = []

    def hook(store):
        seen.append((len(store), store.joints(1).tolist()))
        return {"value_ranges": {"k": [np.float32(0.5), 2]}}

    seqs = two_sequences()
    with StoreWriter(tmp_path / "st", "coco17", 2, 17) as w:
        for s in seqs:
            w.append(s)
        w.finalize({}, {"stats": {"sequences": 2}}, {}, stats_hook=hook)
    assert seen == [(2, seqs[1].joints.tolist())]
    st = SkeletonStore(tmp_path / "st")
    assert st.manifest["stats"] == {"sequences": 2, "value_ranges": {"k": [0.5, 2]}}
    assert (tmp_path / "st" / "manifest.json").read_text() == json.dumps(st.manifest, indent=2, sort_keys=True)
    with StoreWriter(tmp_path / "plain", "coco17", 2, 17) as w:  # a manifest without stats gets the hook's
        for s in seqs:
            w.append(s)
        w.finalize({}, {}, {}, stats_hook=hook)
    assert SkeletonStore(tmp_path / "plain").manifest["stats"] == {"value_ranges": {"k": [0.5, 2]}}
    with StoreWriter(tmp_path / "empty", "coco17", 2, 17) as w:  # an empty store: nothing to sample
        w.finalize({}, {}, {}, stats_hook=hook)
    assert len(seen) == 2 and "stats" not in SkeletonStore(tmp_path / "empty").manifest


def test_a_writer_whose_lock_was_taken_over_does_not_publish(tmp_path):
    out = tmp_path / "st"
    with StoreWriter(out, "coco17", 2, 17) as w:
        w.append(two_sequences()[1])
        lock_path(out).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": 0,
                                              "token": "another-run"}))
        with pytest.raises(StoreError) as e:
            w.finalize({}, {}, {})
        assert str(e.value) == (f"{out}: the lock {lock_path(out)} was taken over by another run (this run was"
                                " presumed dead); not publishing")
    assert not out.exists() and lock_path(out).exists()  # the other run's lock is left alone


def test_an_aborted_writer_closes_its_files_and_leaves_nothing(tmp_path):
    fds = "/proc/self/fd"
    if not os.path.isdir(fds):
        pytest.skip("needs /proc/self/fd")
    before = len(os.listdir(fds))
    with pytest.raises(RuntimeError), StoreWriter(tmp_path / "st", "coco17", 2, 17, with_confidence=True) as w:
        w.append(two_sequences()[0])
        raise RuntimeError("stop")
    assert len(os.listdir(fds)) == before
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_a_killed_run_are_named_in_the_notes(tmp_path):
    stale = tmp_path / ".st.partial-otherhost-12345"
    stale.mkdir()
    with StoreWriter(tmp_path / "st", "coco17", 2, 17) as w:
        assert w.notes == [f"removed {stale.name} (left by a run that was killed)"]
        w.finalize({}, {}, {})
    assert not stale.exists()


# --- reading -----------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    write(tmp_path / "st", two_sequences(), splits={"xsub": {"train": [1, 0], "test": []}, "one": {"a": [1]},
                                                       "none": {"train": []}},
          manifest={"dataset": "toy", "class_names": [f"c{i}" for i in range(5)]}, with_confidence=True)
    return SkeletonStore(tmp_path / "st")


def test_split_ids_are_int64_arrays_usable_as_indices(store):
    assert store.split_ids(None, None).tolist() == [0, 1] and store.split_ids(None, "test").tolist() == [0, 1]
    for split, subset, ids in [("xsub", "train", [1, 0]), ("xsub", None, [0, 1]), ("xsub", "test", []),
                               ("one", None, [1]), ("none", None, [])]:
        got = store.split_ids(split, subset)
        assert got.dtype == np.int64 and got.tolist() == ids
        assert store.labels[got].tolist() == [[4, -1][i] for i in ids]


def test_an_unknown_split_or_subset_is_refused_listing_the_known_ones(store):
    with pytest.raises(StoreError) as e:
        store.split_ids("xview", "train")
    assert str(e.value) == f"{store.path}: no split 'xview'; available: ['none', 'one', 'xsub']"
    with pytest.raises(StoreError) as e:
        store.split_ids("xsub", "val")
    assert str(e.value) == f"{store.path}: split 'xsub' has no subset 'val'; available: ['test', 'train']"


def test_sequences_tables_and_iteration(store):
    seqs = two_sequences()
    assert len(store) == 2 and store.format == "coco17" and store.class_names == [f"c{i}" for i in range(5)]
    assert store.labels.tolist() == [4, -1] and store.lengths.tolist() == [3, 2]
    got = list(store)
    assert [g.meta for g in got] == [{"name": "a", "label": 4, "subject": 3, "zeta": 1.5},
                                     {"name": "b", "view": [0.5]}]
    assert [g.fps for g in got] == [25.0, None] and [g.format for g in got] == ["coco17", "coco17"]
    for g, s in zip(got, seqs):
        np.testing.assert_array_equal(g.joints, s.joints)
    np.testing.assert_array_equal(got[0].confidence, seqs[0].confidence)
    np.testing.assert_array_equal(got[1].confidence, seqs[1].valid.astype(np.float32))


def test_a_store_pickles_by_path_and_reopens_the_same_data(store):
    again = pickle.loads(pickle.dumps(store))
    assert again.path == store.path and len(again) == 2
    np.testing.assert_array_equal(again.joints(0), store.joints(0))


def test_repr_names_path_dataset_format_size_and_splits(store):
    assert repr(store) == (f"SkeletonStore({str(store.path)!r}, dataset='toy', format='coco17', sequences=2,"
                           " splits=['none', 'one', 'xsub'])")


def test_side_files_are_written_as_indented_json(store):
    target = store.write_json("quality.json", {"n": np.int64(3), "r": np.arange(2)})
    assert target == store.path / "quality.json"
    assert target.read_text() == json.dumps({"n": 3, "r": [0, 1]}, indent=2)
    assert store.verify().ok  # not part of the content hash


def test_jsonable_turns_numpy_values_into_plain_python():
    got = jsonable({1: np.int64(2), "f": np.float32(0.5), "a": np.arange(3).reshape(1, 3),
                    "t": (np.int8(-1), [np.float64(1.5)]), "s": "x"})
    assert got == {"1": 2, "f": 0.5, "a": [[0, 1, 2]], "t": [-1, [1.5]], "s": "x"}
    assert type(got["1"]) is int and type(got["f"]) is float and type(got["t"][1][0]) is float


# --- opening a damaged store: a StoreError naming the file, in full ---------------------------------------
def test_a_folder_without_manifest_is_not_a_store(tmp_path):
    with pytest.raises(StoreError) as e:
        SkeletonStore(tmp_path)
    assert str(e.value) == f"{tmp_path} is not a prepared s2i store (no manifest.json)"


def test_missing_or_unreadable_index_is_named(store):
    f = store.path / "index.npy"
    f.write_bytes(b"not an npy file")
    with pytest.raises(StoreError) as e:
        SkeletonStore(store.path)
    assert str(e.value).startswith(f"{f}: not a readable index (")
    np.save(f, np.array([object()], dtype=object))  # a pickled array is refused, never unpickled
    with pytest.raises(StoreError) as e:
        SkeletonStore(store.path)
    assert str(e.value).startswith(f"{f}: not a readable index (")
    f.unlink()
    with pytest.raises(StoreError) as e:
        SkeletonStore(store.path)
    assert str(e.value) == f"{f}: missing (incomplete store)"


@pytest.mark.parametrize("name, size", [("joints.bin", 8 * 17 * 2 * 4), ("confidence.bin", 8 * 17 * 4)])
def test_data_files_of_the_wrong_size_are_named_with_both_sizes(store, name, size):
    f = store.path / name
    with open(f, "r+b") as fh:
        fh.truncate(size - 4)
    with pytest.raises(StoreError) as e:
        SkeletonStore(store.path)
    assert str(e.value) == (f"{f}: {size - 4} bytes, expected {size} from manifest.json fields 'rows', 'num_joints',"
                            " 'dims', 'dtype' (truncated store, or a changed manifest?)")
    f.unlink()
    with pytest.raises(StoreError) as e:
        SkeletonStore(store.path)
    assert str(e.value) == f"{f}: missing (incomplete store)"


def test_damaged_metadata_lines_are_named_by_line(store):
    f = store.path / "meta.jsonl"
    lines = f.read_text().splitlines()
    f.write_text(lines[0] + "\n{oops\n")
    with pytest.raises(StoreError, match=r"^" + str(f) + r":2: not a JSON line \("):
        SkeletonStore(store.path).meta  # noqa: B018
    f.write_text(lines[0] + "\n[1]\n")
    with pytest.raises(StoreError) as e:
        SkeletonStore(store.path).meta  # noqa: B018
    assert str(e.value) == f"{f}: 2 lines, expected one JSON object per sequence (2)"
    f.write_bytes(b'{"name": "\xff"}\n')
    with pytest.raises(StoreError, match=r"^" + str(f) + r":1: not a JSON line \("):
        SkeletonStore(store.path).meta  # noqa: B018
    f.unlink()
    with pytest.raises(StoreError) as e:
        SkeletonStore(store.path).meta  # noqa: B018
    assert str(e.value) == f"{f}: missing (incomplete store)"


def test_metadata_is_read_as_utf8(tmp_path):
    seq = two_sequences()[1]
    seq.meta["name"] = "größe ✓"
    write(tmp_path / "st", [seq])
    assert SkeletonStore(tmp_path / "st")[0].meta["name"] == "größe ✓"


def test_an_empty_store_opens_with_no_sequences(tmp_path):
    write(tmp_path / "st", [], with_confidence=True)
    st = SkeletonStore(tmp_path / "st")
    assert len(st) == 0 and list(st) == [] and st.meta == [] and st.split_ids(None, None).tolist() == []


def test_the_memory_maps_are_read_only(store):
    # a bug elsewhere (an in-place augmentation of a view) must not be able to write into a store
    assert not store._joints.flags.writeable and not store._conf.flags.writeable
    assert store._joints.dtype == np.float32 and store._conf.dtype == np.float32


def test_a_manifest_of_another_store_version_is_refused_naming_it(store):
    f = store.path / "manifest.json"
    mf = json.loads(f.read_text())
    f.write_text(json.dumps({**mf, "store_version": 2}))
    with pytest.raises(StoreError) as e:
        SkeletonStore(store.path)
    assert str(e.value) == f"{f}: store version 2 is not 1"


def test_an_existing_store_is_replaced_only_with_overwrite(tmp_path):
    out = tmp_path / "st"
    first, second = two_sequences()
    write(out, [first])
    with pytest.raises(StoreError) as e:
        StoreWriter(out, "coco17", 2, 17)
    assert str(e.value) == f"{out} already exists (pass overwrite=True / --overwrite to replace it)"
    write(out, [second], overwrite=True)
    st = SkeletonStore(out)
    assert len(st) == 1 and st.meta[0]["name"] == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["st"]


def test_raw_data_root_and_out_must_not_overlap(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    with pytest.raises(StoreError) as e:
        StoreWriter(root / "st", "coco17", 2, 17, root=root)
    assert str(e.value) == (f"--out {root / 'st'} is inside the raw-data folder --root {root}; choose an output"
                            " folder outside it")


def test_a_partial_folder_of_this_process_is_started_afresh(tmp_path):
    from s2i.store.publish import partial_path

    out = tmp_path / "st"
    partial_path(out).mkdir()
    (partial_path(out) / "junk.bin").write_bytes(b"x")
    write(out, two_sequences()[1:])
    assert not (out / "junk.bin").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["st"]


def test_a_store_restored_from_an_interrupted_publish_is_replaced_only_with_overwrite(tmp_path):
    """A crash between moving the old store aside and publishing leaves ``.NAME.old-*``: the next writer
    restores it, and then replaces it only with overwrite (kills write.__init__ 36, 40, 42)."""
    out = tmp_path / "st"
    first, second = two_sequences()
    write(out, [first])
    os.rename(out, tmp_path / ".st.old-1")
    with pytest.raises(StoreError) as e:
        StoreWriter(out, "coco17", 2, 17)
    assert str(e.value) == f"{out} already exists (pass overwrite=True / --overwrite to replace it)"
    assert SkeletonStore(out).meta[0]["name"] == "a"  # restored, not lost
    os.rename(out, tmp_path / ".st.old-2")
    with StoreWriter(out, "coco17", 2, 17, overwrite=True) as w:
        assert w.notes == [f"restored {out} from .st.old-2 (a run was interrupted while replacing it)"]
        w.append(second)
        w.finalize({}, {}, {})
    assert SkeletonStore(out).meta[0]["name"] == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["st"]


def test_this_process_partial_folder_is_not_reported_as_a_killed_runs(tmp_path):
    """The writer's own partial folder (same process, e.g. an earlier writer that did not clean up) is started
    afresh without a note; only other runs' leftovers are reported (kills write.__init__ 49)."""
    from s2i.store.publish import partial_path

    out = tmp_path / "st"
    partial_path(out).mkdir()
    with StoreWriter(out, "coco17", 2, 17) as w:
        notes = list(w.notes)
        w.append(two_sequences()[0])
        w.finalize({}, {}, {})
    assert notes == []
