"""The numbers of every protocol on the tiny synthetic store with fixed seeds (benchmarks/protocol_numbers.py)
are the ones the code computed before the evaluation spine was typed (commit 7ebe2a1): a refactor of the
protocols, the methods or fusion that changes a number fails here. Slow: it runs nine evaluations."""

from __future__ import annotations

import os

import pytest

from helpers import load_benchmark

#: per run: top-1, top-5, (seed, top-1) per seed and the confusion matrix, as main's code at 7ebe2a1 wrote them
#: (CPU, one thread); the full results.json of both versions also agree key by key (see the script)
PINNED = {
    "linear": (93.75, 100.0, [[0, 91.6667], [1, 95.8333]], [[12, 0, 0, 0], [0, 12, 0, 0], [0, 2, 9, 1], [0, 0, 0, 12]]),
    "linear-random": (83.3333, 100.0, [[0, 83.3333], [1, 83.3333]],
                      [[12, 0, 0, 0], [0, 12, 0, 0], [0, 4, 5, 3], [1, 0, 0, 11]]),
    "knn": (56.25, 100.0, [[4, 66.6667], [5, 45.8333]], [[9, 1, 0, 2], [2, 7, 1, 2], [0, 3, 3, 6], [2, 2, 0, 8]]),
    "finetune": (37.5, 100.0, [[0, 37.5]], [[0, 5, 1, 0], [0, 3, 3, 0], [0, 0, 6, 0], [0, 0, 6, 0]]),
    "semi-linear": (79.1667, 100.0, [[0, 75.0], [1, 83.3333]],
                    [[11, 0, 1, 0], [1, 11, 0, 0], [1, 1, 7, 3], [1, 0, 2, 9]]),
    "semi-knn": (62.5, 100.0, [[2, 62.5]], [[6, 0, 0, 0], [0, 5, 1, 0], [1, 1, 1, 3], [0, 1, 2, 3]]),
    "joint": (95.8333, 100.0, [[0, 95.8333]], [[6, 0, 0, 0], [0, 6, 0, 0], [0, 0, 5, 1], [0, 0, 0, 6]]),
    "bone": (100.0, 100.0, [[0, 100.0]], [[6, 0, 0, 0], [0, 6, 0, 0], [0, 0, 6, 0], [0, 0, 0, 6]]),
    "fused": (100.0, 100.0, [[0, 100.0]], [[6, 0, 0, 0], [0, 6, 0, 0], [0, 0, 6, 0], [0, 0, 0, 6]]),
}


@pytest.mark.slow
def test_every_protocol_computes_the_numbers_main_computed(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    numbers = load_benchmark("protocol_numbers").main(tmp_path / "numbers")
    assert set(numbers) == set(PINNED)
    for name, (top1, top5, per_seed, confusion) in PINNED.items():
        got = numbers[name]
        assert (got["top1"], got["top5"]) == (top1, top5), name
        assert [[s["seed"], s["top1"]] for s in got["per_seed"]] == per_seed, name
        assert got["confusion_matrix"] == confusion, name
    assert numbers["linear"]["training"]["linear"]["joint"][1]["num_val_samples"] == 12  # the carve ran
    assert len(numbers["linear-random"]["labelled"]) == 2 and len(
        {lab["checkpoint_hash"] for lab in numbers["linear-random"]["labelled"]}) == 2  # a random init per seed
