"""results.json provenance: the git commit of the code that ran, and a run id."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from s2i.evaluation.results import git_state, load_results, new_run_id, results_table, write_results

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@needs_git
def test_git_state_names_the_commit_of_the_package_source_and_its_dirty_flag(tmp_path):
    repo = tmp_path / "repo"
    pkg = repo / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    state = git_state(pkg)
    assert state == {"commit": _git(repo, "rev-parse", "HEAD"), "dirty": False}
    (repo / "run_output.json").write_text("{}")  # untracked outputs do not make the source dirty
    assert git_state(pkg) == state
    (pkg / "__init__.py").write_text("x = 2\n")  # an edited tracked file does
    assert git_state(pkg) == {**state, "dirty": True}


@needs_git
def test_git_state_is_none_where_the_source_is_not_a_tracked_checkout(tmp_path, monkeypatch):
    assert git_state(tmp_path) is None  # not a repository
    repo = tmp_path / "repo"
    (repo / "site" / "pkg").mkdir(parents=True)
    (repo / "site" / "pkg" / "__init__.py").write_text("")
    (repo / "README").write_text("a project")
    _git(repo, "init", "-q")  # a repository that does not track the package (a venv inside a project)
    _git(repo, "add", "README")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    assert git_state(repo / "site" / "pkg") is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # git absent: None, never an error
    assert git_state() is None


def test_run_ids_are_fresh_and_old_files_without_provenance_still_load(tmp_path):
    assert len({new_run_id() for _ in range(50)}) == 50
    write_results(tmp_path / "old", {"protocol": "knn", "top1": 50.0, "top5": 90.0, "seeds": [0],
                                     "dataset": "d", "split": "s", "stream": "joint"})
    (old,) = load_results([tmp_path / "old"])
    assert old.run_id is None and old.git is None and old.top1 == 50.0
    assert "run_id" not in old.dump() and "git" not in old.dump()  # what was not written is not invented


def _run(folder, seeds, top1, checkpoint="sha256:aa", run_id=None, method="mae"):
    write_results(folder, {"protocol": "linear", "top1": top1, "top5": 99.0, "seeds": seeds, "dataset": "d",
                           "split": "xview", "stream": "joint", "method": method, "num_test_samples": 100,
                           "checkpoint_hash": checkpoint, "data": {"content_hash": "sha256:data"},
                           "per_seed": [{"seed": s, "top1": top1, "top5": 99.0} for s in seeds],
                           **({"run_id": run_id} if run_id else {})})
    return folder


def test_s2i_results_refuses_a_copied_run_and_the_same_seed_evaluated_twice(tmp_path, capsys):
    import shutil as sh

    from s2i.cli import main

    a = _run(tmp_path / "A", [0], 35.8, run_id=new_run_id())
    sh.copytree(a, tmp_path / "A_copy")  # the hostile user's copy: it must not count as a second run
    for args in ([a, tmp_path / "A_copy"], [a, a]):
        assert main(["results", *map(str, args)]) == 2
        err = capsys.readouterr().err
        assert "same run as" in err and str(a / "results.json") in err and "2 runs" not in err
    old = _run(tmp_path / "old", [0], 35.8, checkpoint="")  # a file from before run ids: its bytes identify it
    sh.copytree(old, tmp_path / "old_copy")
    with pytest.raises(ValueError, match="old_copy/results.json is the same run as"):
        results_table(load_results([old, tmp_path / "old_copy"]))
    again = _run(tmp_path / "again", [1, 0], 36.0, run_id=new_run_id())  # seed 0 of the same checkpoint, re-run
    with pytest.raises(ValueError, match=r"again/results.json and .*A/results.json both evaluate seed 0 of checkpoint"):
        results_table(load_results([a, again]))
    # what may pool: other seeds of the checkpoint, the same seed of another pretraining, another method's row
    ok = [a, _run(tmp_path / "s1", [1, 2], 36.0, run_id=new_run_id()),
          _run(tmp_path / "p2", [0], 30.0, checkpoint="sha256:bb", run_id=new_run_id()),
          _run(tmp_path / "other", [0], 30.0, run_id=new_run_id(), method="mae, other lr")]
    md = results_table(load_results(ok))
    assert "(3 runs: 2 checkpoints, 4 seeds)" in md and "| mae, other lr | 30.0" in md
