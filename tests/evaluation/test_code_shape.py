"""The upper floors stay readable (issue 33): no function of evaluation/ or training/ longer than 60 lines, and
no function anywhere in src/s2i rated D or worse by radon (cyclomatic complexity 21 or more)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "s2i"
SHORT = sorted([*(SRC / "evaluation").glob("*.py"), *(SRC / "training").glob("*.py")])
MAX_LINES, MAX_COMPLEXITY = 60, 20


def _functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def test_no_function_in_evaluation_or_training_is_longer_than_60_lines():
    long = [f"{p.relative_to(SRC)}:{f.name} ({(f.end_lineno or f.lineno) - f.lineno + 1} lines)"
            for p in SHORT for f in _functions(p)
            if (f.end_lineno or f.lineno) - f.lineno + 1 > MAX_LINES]
    assert not long, long


def test_no_function_in_src_is_rated_d_or_worse():
    complexity = pytest.importorskip("radon.complexity")
    tangled = [f"{p.relative_to(SRC)}:{b.name} ({b.complexity})" for p in sorted(SRC.rglob("*.py"))
               for b in complexity.cc_visit(p.read_text()) if b.complexity > MAX_COMPLEXITY]
    assert not tangled, tangled
