"""results.json provenance: the git commit of the code that ran, and a run id."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from s2i.evaluation.results import git_state, load_results, new_run_id, write_results

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
    assert "run_id" not in old and "git" not in old and old["top1"] == 50.0
