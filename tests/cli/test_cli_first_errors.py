"""The errors of a first hour (issue 35, item 6): they name the user's path or key, say where it came from
(--set or the config file) and what to do next."""

import json

import pytest

from s2i.cli import main
from s2i.evaluation.config import load_eval_config
from s2i.store import SkeletonStore, StoreError
from s2i.training.config import ConfigError, load_config


def err_of(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_unknown_set_key_suggests_the_closest_key_and_names_set(tmp_path, capsys):
    err = err_of(capsys, "pretrain", "--out", str(tmp_path / "r"), "--set", "optim.max_stepz=3")
    assert err == "error: --set optim.max_stepz: unknown key (did you mean optim.max_steps?)"
    err = err_of(capsys, "pretrain", "--out", str(tmp_path / "r"), "--set", "trainer.max_stepz=3")
    assert err == "error: --set trainer.max_stepz: unknown key (did you mean optim.max_steps?)"
    with pytest.raises(ConfigError, match=r"^--set linear\.epoch: unknown key \(did you mean linear\.epochs\?\)$"):
        load_eval_config(None, ["linear.epoch=3"])


def test_unknown_key_in_the_file_names_the_file(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim: {max_stepz: 5}\nmodle: {}\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg, ["optim.epochs=1"])
    assert str(e.value) == (f"{cfg}: optim.max_stepz: unknown key (did you mean optim.max_steps?); "
                            f"{cfg}: modle: unknown key (did you mean model?)")


def test_unknown_key_without_a_close_one_lists_the_section(tmp_path):
    with pytest.raises(ConfigError, match=r"--set knn\.zzz: unknown key \(knn has: ks, temperature"):
        load_eval_config(None, ["knn.zzz=1"])


def test_pretrain_with_nothing_says_what_it_needs(tmp_path, capsys):
    err = err_of(capsys, "pretrain", "--out", str(tmp_path / "r"))
    assert err.startswith("error: s2i pretrain needs data and a run length: --data STORE") and "pydantic" not in err
    err = err_of(capsys, "pretrain", "--out", str(tmp_path / "r"), "--set", "seed=1")
    assert err == ("error: the default config: optim: set epochs or max_steps (e.g. --set optim.max_steps=1000,"
                   " or a --config file)")


def test_missing_folders_are_named_as_missing(tmp_path, capsys):
    nope = tmp_path / "nope"
    assert err_of(capsys, "pretrain", "--out", str(tmp_path / "r"), "--data", str(nope),
                  "--set", "optim.max_steps=3") == f"error: --data {nope}: no such folder"
    assert err_of(capsys, "inspect", str(nope)) == f"error: no such folder: {nope} (expected a prepared s2i store)"
    with pytest.raises(StoreError, match="no such folder"):
        SkeletonStore(nope)
    store = tmp_path / "store"
    store.mkdir()
    (store / "manifest.json").write_text(json.dumps({"store_version": 1, "content_hash": "x"}))
    err = err_of(capsys, "eval", "knn", "--checkpoint", str(nope), "--data", str(store), "--out", str(tmp_path / "o"))
    assert err.startswith(f"error: --checkpoint {nope}: no such folder")


def test_raw_data_given_to_pretrain_suggests_prepare(tmp_path, capsys):
    raw = tmp_path / "ucla"
    for i in range(3):  # NW-UCLA's raw layout: one JSON file per sequence, aAA_sSS_eEE_vVV.json
        (raw / f"a0{i + 1}_s01_e00_v01.json").parent.mkdir(parents=True, exist_ok=True)
        (raw / f"a0{i + 1}_s01_e00_v01.json").write_text(json.dumps({"label": i, "skeletons": [[[0, 0, 0]] * 20]}))
    err = err_of(capsys, "pretrain", "--out", str(tmp_path / "r"), "--data", str(raw), "--set", "optim.max_steps=3")
    assert err == (f"error: --data {raw}: raw nw-ucla files, not a prepared store; prepare them first:"
                   f" s2i prepare nw-ucla --root {raw} --out STORE, then --data STORE")
    other = tmp_path / "other"
    other.mkdir()
    err = err_of(capsys, "pretrain", "--out", str(tmp_path / "r"), "--data", str(other), "--set", "optim.max_steps=3")
    assert "not a prepared s2i store" in err and f"s2i prepare DATASET --root {other} --out STORE" in err
