"""persons: auto (issue 13 item 12): stack when the data has a two-person sequence, else first; decided
from the store's statistics or the batch before an encoder is built, and reported."""

import json

import numpy as np

from s2i import SkeletonSequence
from s2i.cli import main
from s2i.encode import (
    S2IConfig,
    S2IEncoder,
    batch_has_two_person,
    dataset_value_range,
    encode,
    resolve_persons,
    store_has_two_person,
    value_range_key,
)
from s2i.readers import read_sequence
from s2i.store import SkeletonStore, StoreWriter

from helpers import sample_path, synthetic_ntu


def test_resolution_rule():
    assert S2IConfig().persons == "auto"
    assert resolve_persons(S2IConfig(), True).persons == "stack"
    assert resolve_persons(S2IConfig(), False).persons == "first"
    assert resolve_persons(S2IConfig(persons="mean"), False).persons == "mean"  # explicit choices stay
    one = synthetic_ntu(n=2, persons=1)
    two = synthetic_ntu(n=2, persons=2)
    assert not batch_has_two_person(one) and batch_has_two_person(two)
    padded = np.concatenate([one, np.full_like(one, np.nan)], axis=1)  # an empty second slot is not a person
    assert not batch_has_two_person(padded)
    # an encoder built without data cannot look: unresolved auto is stack, deterministically
    assert S2IEncoder("ntu25").config.persons == "stack"
    assert value_range_key(S2IConfig()) == value_range_key(S2IConfig(persons="stack"))


def test_encode_uses_the_whole_image_for_single_person_data():
    one = synthetic_ntu(n=2, persons=1, seed=3)
    two = synthetic_ntu(n=2, persons=2, seed=3)
    np.testing.assert_array_equal(encode(one, "ntu25", value_range="fixed"),
                                  encode(one, "ntu25", value_range="fixed", persons="first"))
    np.testing.assert_array_equal(encode(two, "ntu25", value_range="fixed"),
                                  encode(two, "ntu25", value_range="fixed", persons="stack"))


def make_store(path, persons):
    """Six sequences, the last with ``persons`` persons, statistics as prepare writes them."""
    from s2i.store.stats import StatsAccumulator

    acc = StatsAccumulator(25, 3)
    with StoreWriter(path, "ntu25", dims=3, num_joints=25) as w:
        for i in range(6):
            x = synthetic_ntu(n=1, persons=persons if i == 5 else 1, t=30, seed=i)[0]
            seq = SkeletonSequence(x, format="ntu25", meta={"name": f"s{i}", "label": i % 2})
            w.append(seq)
            acc.update(seq)
        w.finalize({"xsub": {"train": [0, 1, 2, 3], "test": [4, 5]}}, {"stats": acc.result(w.lengths())}, {})
    return SkeletonStore(path)


def test_store_statistics_decide(tmp_path, capsys):
    single = make_store(tmp_path / "one", persons=1)
    mixed = make_store(tmp_path / "two", persons=2)  # one two-person sequence, in the test part
    assert not store_has_two_person(single) and store_has_two_person(mixed)
    dataset_value_range(single, "xsub", S2IConfig())
    cache = json.loads((single.path / "value_ranges.json").read_text())
    assert list(cache["xsub"]) == ["joint|center=1|rotate=auto|scale=0|persons=first"]
    dataset_value_range(mixed, "xsub", S2IConfig())
    cache = json.loads((mixed.path / "value_ranges.json").read_text())
    assert list(cache["xsub"]) == ["joint|center=1|rotate=auto|scale=0|persons=stack2"]
    out = tmp_path / "img"
    assert main(["encode", "--store", str(single.path), "--out", str(out), "--size", "32"]) == 0
    printed = capsys.readouterr().out
    assert f"ntu25: persons=first (auto: no two-person sequence in the statistics of {single.path})" in printed
    report = json.loads((out / "encode_report.json").read_text())
    assert report["config"]["persons"] == "auto" and report["formats"]["ntu25"]["persons"] == "first"


def test_raw_files(tmp_path, capsys):
    ucla = sample_path("nw_ucla", "all_sqe", "a01_s01_e00_v01.json")
    pair = sample_path("ntu_samples", "S001C003P008R002A058.skeleton")
    assert not batch_has_two_person(read_sequence(ucla).joints)
    assert batch_has_two_person(read_sequence(pair).joints)
    assert main(["encode", str(ucla), "--out", str(tmp_path / "a"), "--size", "32"]) == 0
    assert "kinect_v1: persons=first (auto: no two-person sequence in 1 input sequence(s))" in capsys.readouterr().out
    assert main(["encode", str(pair), "--out", str(tmp_path / "b"), "--size", "32"]) == 0
    assert "ntu25: persons=stack (auto: a two-person sequence in 1 input sequence(s))" in capsys.readouterr().out
