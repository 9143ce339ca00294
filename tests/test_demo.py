"""``s2i demo``: one command runs prepare → pretrain → linear + kNN (pretrained vs random) and leaves a
self-describing folder; it never touches a folder that is not its own."""

from __future__ import annotations

import json

import pytest

from s2i.cli import main
from s2i.demo import detect_source, run_demo
from s2i.outputs import OutputError
from s2i.testing.actions import write_limb_action_store

from helpers import sample_path

TINY = ["--set", "model.backbone_kwargs.depth=1", "--set", "encode.height=32", "--set", "encode.width=32",
        "--set", "data.batch_size=16", "--set", "model.decoder_depth=1"]


def test_demo_on_a_store_runs_every_stage_and_describes_itself(tmp_path, capsys):
    store = write_limb_action_store(tmp_path / "store", classes=4, train_per_class=10, test_per_class=5)
    out = tmp_path / "demo"
    rc = main(["demo", "--data", str(store.path), "--out", str(out), "--steps", "4", "--no-report", "--quiet", *TINY])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "linear" in printed and "knn" in printed and "random weights" in printed
    marker = json.loads((out / "demo.json").read_text())
    assert marker["status"] == "done" and marker["store"] == str(store.path)
    assert set(marker["results"]) == {"linear-pretrained", "knn-pretrained", "linear-random", "knn-random"}
    assert marker["pretrain_config"]["optim"]["max_steps"] == 4
    assert marker["pretrain_config"]["model"]["backbone_kwargs"] == {"depth": 1}
    for name, r in marker["results"].items():
        res = json.loads((out / "eval" / name / "results.json").read_text())
        assert res["top1"] == r["top1"] and res["num_test_samples"] == 20
        assert res["init"] == name.split("-")[1]
        assert r["top1"] >= 50.0, (name, r)  # which limb swings: separable, chance is 25 %
    metrics = json.loads((out / "pretrain" / "metrics.json").read_text())
    assert metrics["steps"] == 4
    assert (out / "pretrain" / "encoder" / "model.safetensors").is_file()
    card = (out / "pretrain" / "encoder" / "README.md").read_text()
    lin = marker["results"]["linear-pretrained"]["top1"]
    assert f"| linear | limb-actions | xsub | joint | pretrained | {lin:.1f} |" in card


def test_demo_refuses_folders_that_are_not_its_own(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not an s2i demo folder"):
        run_demo(tmp_path / "nothing", foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "demo.json").write_text('{"kind": "s2i-demo"}')  # typed by its content, not its name
    with pytest.raises(OutputError, match="--overwrite"):
        run_demo(None, earlier)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        run_demo(tmp_path / "absent", tmp_path / "new")


def test_detect_source_recognises_raw_data_sets(tmp_path):
    with pytest.raises(ValueError, match="no known data set"):
        detect_source(tmp_path)
    ucla = sample_path("nw_ucla")
    assert detect_source(ucla) == "nw-ucla"
