"""``s2i demo``: one command runs prepare → pretrain → linear + kNN (pretrained vs random) and leaves a
self-describing folder; it never touches a folder that is not its own."""

from __future__ import annotations

import hashlib
import json

import pytest

from s2i.cli import main
from s2i.config_files import ConfigError
from s2i.demo import (
    _estimate,
    _pretrain_config,
    _row_config,
    demo_eval_rows,
    demo_pretrain_tree,
    detect_source,
    run_demo,
)
from s2i.models.bundled import bundled_folder
from s2i.outputs import OutputError
from s2i.testing.actions import write_limb_action_store

from helpers import sample_path

TINY = ["--set", "model.backbone_kwargs.depth=1", "--set", "encode.height=32", "--set", "encode.width=32",
        "--set", "data.batch_size=16", "--set", "model.decoder_depth=1",
        "--eval-set", "rows.few-labels.config.seeds=[0]", "--eval-set", "rows.few-labels.config.finetune.epochs=2",
        "--eval-set", "rows.tiny-few.config.seeds=[0]", "--eval-set", "rows.tiny-few.config.finetune.epochs=2"]
ROWS = ("linear", "knn", "knn-few", "few-labels", "tiny-few")


def test_demo_on_a_store_runs_every_stage_and_describes_itself(tmp_path, capsys):
    store = write_limb_action_store(tmp_path / "store", classes=4, train_per_class=10, test_per_class=5)
    out = tmp_path / "demo"
    rc = main(["demo", "--data", str(store.path), "--out", str(out), "--steps", "8", "--no-report", "--quiet", *TINY])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "linear" in printed and "kNN" in printed and "2 labels/class" in printed and "random weights" in printed
    assert "estimate for the whole demo: about" in printed  # after the pretraining's first timed steps
    marker = json.loads((out / "demo.json").read_text())
    assert marker["status"] == "done" and marker["store"] == str(store.path)
    assert set(marker["results"]) == {f"{r}-{i}" for r in ROWS for i in ("pretrained", "random")}
    assert marker["pretrain_config"]["optim"]["max_steps"] == 8
    assert marker["pretrain_config"]["model"]["backbone_kwargs"] == {"depth": 1}
    assert set(marker["cpu_time_s"]) == set(marker["wall_time_s"])
    for name, r in marker["results"].items():
        res = json.loads((out / "eval" / name / "results.json").read_text())
        assert res["top1"] == r["top1"] and res["num_test_samples"] == 20
        assert res["init"] == name.rsplit("-", 1)[1]
        assert r["wilson95"].startswith("[") and r["seeds"] == res["seeds"]
        if not name.startswith(("few-labels", "knn-few", "tiny-few")):
            assert r["top1"] >= 50.0, (name, r)  # which limb swings: separable, chance is 25 %
    for init, decay in (("pretrained", 0.75), ("random", 1.0)):  # the random baseline's own setting
        res = json.loads((out / "eval" / f"few-labels-{init}" / "results.json").read_text())
        assert res["protocol"] == "semi" and res["seeds"] == [0]
        assert [x["num_labelled"] for x in res["labelled"]] == [4]  # 1 of the 10 per class (fraction 0.084)
        assert res["config"]["finetune"]["layer_decay"] == decay and res["config"]["finetune"]["epochs"] == 2
    for init, method in (("pretrained", "s2i-tiny"), ("random", "random init (s2i-tiny architecture)")):
        res = json.loads((out / "eval" / f"tiny-few-{init}" / "results.json").read_text())
        assert res["checkpoint"]["path"] == str(bundled_folder("s2i-tiny")) and res["method"] == method
        assert res["checkpoint"]["img_size"] == [48, 48]  # s2i-tiny's own architecture, not the demo's 32 px
        assert res["config"]["finetune"]["layer_decay"] == (0.75 if init == "pretrained" else 1.0)
        assert marker["results"][f"tiny-few-{init}"]["encoder"] == "s2i-tiny"
    bundled_hash = json.loads((out / "eval" / "tiny-few-pretrained" / "results.json").read_text())["checkpoint_hash"]
    assert bundled_hash == "sha256:" + hashlib.sha256((bundled_folder("s2i-tiny") / "model.safetensors")
                                                      .read_bytes()).hexdigest()
    metrics = json.loads((out / "pretrain" / "metrics.json").read_text())
    assert metrics["steps"] == 8
    assert (out / "pretrain" / "encoder" / "model.safetensors").is_file()
    card = (out / "pretrain" / "encoder" / "README.md").read_text()
    lin = marker["results"]["linear-pretrained"]["top1"]
    assert f"| linear | limb-actions | xsub | joint | pretrained | {lin:.1f} |" in card
    own = [r for r in ROWS if not r.startswith("tiny-")]  # its card holds its own results, not the bundled one's
    assert card.count("| limb-actions | xsub | joint |") == 2 * len(own)


def test_demo_recipes_ship_as_package_data_and_validate(tmp_path):
    """The recipes load through importlib.resources from the package, every row validates for both
    initialisations, and pyproject's package data carries every recipe file (else `pip install .` drops it)."""
    import re
    from fnmatch import fnmatch
    from pathlib import Path

    tree = demo_pretrain_tree()
    cfg = _pretrain_config([], None, False)
    assert cfg.optim.max_steps == tree["optim"]["max_steps"] and cfg.model.mask_ratio == tree["model"]["mask_ratio"]
    assert _pretrain_config(["optim.max_steps=7"], None, False).optim.max_steps == 7
    rows = demo_eval_rows()
    assert set(rows) == set(ROWS)
    for row in rows.values():
        for init in ("pretrained", "random"):
            c = _row_config(row, init, tmp_path)
            assert c.init == init and c.streams == ["joint"]
    few = rows["few-labels"]
    assert _row_config(few, "random", tmp_path).finetune != _row_config(few, "pretrained", tmp_path).finetune
    assert demo_eval_rows(["rows.few-labels.config.seeds=[5]"])["few-labels"].config["seeds"] == [5]
    with pytest.raises(ConfigError, match="--set rows.knn.confg.*unknown key"):
        demo_eval_rows(["rows.knn.confg.x=1"])
    assert rows["tiny-few"].encoder == "s2i-tiny" and rows["knn"].encoder == "demo"
    with pytest.raises(ConfigError, match="rows.knn.encoder: 's2i-huge' is neither 'demo'.*s2i-tiny"):
        demo_eval_rows(["rows.knn.encoder=s2i-huge"])
    checkout = Path(__file__).resolve().parents[1]
    root = checkout / "src" / "s2i"
    section = (checkout / "pyproject.toml").read_text().split("[tool.setuptools.package-data]", 1)[1]
    patterns = re.findall(r'"([^"]+)"', section.split("\n[", 1)[0])  # s2i = ["formats/specs/*.yaml", ...]
    recipes = sorted(p.relative_to(root).as_posix() for p in (root / "recipes").iterdir())
    assert recipes and all(any(fnmatch(r, pat) for pat in patterns) for r in recipes), (recipes, patterns)


def test_whole_demo_estimate_adds_evaluation_to_the_pretraining_estimate():
    line = "estimate: 3 min 48 s for the 294 steps left (0.78 s/step, timed over steps 2-6)"
    assert _estimate(line, 10.0, 100.0) == ("estimate for the whole demo: about 5 min 17 s (evaluation and report"
                                            " take about 100 pretraining steps' time)")  # 10 + 394 x 0.78 s
    assert _estimate("prepared 480 sequences", 10.0, 100.0) is None


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
