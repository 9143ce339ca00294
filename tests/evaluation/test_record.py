"""``RunRecord``, the schema of results.json: every committed result file loads and writes back unchanged;
fields are typed, so a hand-edited or hostile file is a one-line error naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s2i.evaluation.record import RunRecord, load_record, write_record
from s2i.evaluation.results import results_table, runs_table

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "docs" / "results").rglob("results.json")) + sorted(
    (ROOT / "docs" / "screens").rglob("results.json"))


def test_there_are_committed_result_files_to_load():
    assert len(COMMITTED) >= 40, COMMITTED


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_committed_result_file_loads_and_writes_back_unchanged(path, tmp_path):
    record = load_record(path)
    raw = json.loads(path.read_text())
    assert record.dump() == raw  # every key kept, none invented, same values
    assert record.path == path and record.top1 == raw["top1"] and record.seeds == raw["seeds"]
    assert record.hyperparameters.method == raw["hyperparameters"]["method"]
    assert record.git is None or record.git.commit == raw["git"]["commit"]  # issue 32's provenance, when there
    assert record.run_id == raw.get("run_id")
    write_record(tmp_path, record)
    assert json.loads((tmp_path / "results.json").read_text()) == raw
    assert load_record(tmp_path).dump() == raw


def test_the_tables_read_every_committed_file():
    records = [load_record(p) for p in COMMITTED]
    table, runs = results_table(records), runs_table(records)
    assert table.count("\n| ") >= 2 and len(runs.splitlines()) == len(records) + 2


def _minimal(**extra):
    return {"protocol": "linear", "top1": 50.0, "top5": 90.0, "seeds": [0], "dataset": "d", "split": "s",
            "stream": "joint", **extra}


@pytest.mark.parametrize(("change", "message"), [
    ({"top1": "95"}, "'top1' is '95', not what s2i writes there"),
    ({"top1": True}, "'top1' is True"),
    ({"top5": float("nan")}, "'top5' is nan"),
    ({"split": None}, "'split' is None"),
    ({"seeds": "0"}, "'seeds' is '0'"),
    ({"per_seed": [{"seed": 0, "top1": "x"}]}, "'per_seed.0.top1' is 'x'"),
    ({"hyperparameters": {"method": "linear", "linear": {"test_crops": "many"}}}, "'hyperparameters.linear'"),
    ({"hyperparameters": {"method": "knn", "knn": {"ks": ["a"]}}}, "ks is \\['a'\\], not a list"),
    ({"hyperparameters": {"semi": {"fraction": "half"}}}, "'hyperparameters.semi'"),
    ({"git": {"commit": "abc"}}, "no 'git.dirty'"),
    ({"training": {"finetune": {"joint": [{"seed": 0, "train_loss": "low"}]}}},
     "'training.finetune.joint.0.train_loss'"),
])
def test_a_field_that_is_not_what_s2i_writes_is_an_error_naming_the_file_and_the_field(tmp_path, change, message):
    f = tmp_path / "results.json"
    f.write_text(json.dumps(_minimal(**change)))
    with pytest.raises(ValueError, match=f"{f}: not an s2i results file: .*{message}"):
        load_record(tmp_path)


def test_a_missing_field_is_named(tmp_path):
    raw = _minimal()
    del raw["stream"]
    (tmp_path / "results.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="not an s2i results file: no 'stream'"):
        load_record(tmp_path)


def test_unknown_keys_are_kept_and_absent_fields_read_as_none(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(_minimal(future_field={"a": [1, 2]})))
    record = load_record(tmp_path)
    assert record.run_id is None and record.git is None and record.features is None
    assert record.hyperparameters.test_crops == 0 and record.format.drop_depth is False
    assert record.dump()["future_field"] == {"a": [1, 2]} and "run_id" not in record.dump()
    assert RunRecord.model_validate(record.dump()).dump() == record.dump()
