"""Protocol building blocks on frozen features: kNN, linear probe, subsets, metrics, result tables."""

import json

import numpy as np
import pytest
import torch

from s2i.evaluation.knn import knn_scores
from s2i.evaluation.linear import LinearProbeConfig, train_linear_probe
from s2i.evaluation.metrics import classification_metrics, fuse_scores
from s2i.evaluation.results import load_results, mean_std, results_table, write_results
from s2i.evaluation.subsets import per_class_subset, train_val_split


def clusters(n_per=40, k=5, dim=16, noise=0.6, seed=0):
    """k Gaussian clusters: separable, but not trivially (noise comparable to the centre spacing)."""
    centres = torch.randn(k, dim, generator=torch.Generator().manual_seed(100)) * 1.5  # one task
    g = torch.Generator().manual_seed(seed)  # different samples of it
    y = torch.arange(k).repeat_interleave(n_per)
    x = centres[y] + noise * torch.randn(len(y), dim, generator=g)
    return x, y


def test_knn_is_far_above_chance_and_k1_is_the_nearest_neighbour():
    xtr, ytr = clusters(seed=0)
    xte, yte = clusters(n_per=20, seed=1)
    scores = knn_scores(xtr, ytr, xte, ks=(1, 10, 20), num_classes=5)
    for k, s in scores.items():
        acc = (s.argmax(1) == yte).float().mean().item()
        assert acc > 0.8, f"k={k}: {acc:.2f} (chance 0.2)"
    # k = 1 equals a hand-written cosine nearest neighbour
    sim = torch.nn.functional.normalize(xte, dim=1) @ torch.nn.functional.normalize(xtr, dim=1).T
    assert torch.equal(scores[1].argmax(1), ytr[sim.argmax(1)])


def test_linear_probe_learns_a_separable_task_and_reports_the_last_epoch():
    xtr, ytr = clusters(seed=0)
    xte, yte = clusters(n_per=20, seed=1)
    res = train_linear_probe(xtr, ytr, xte, 5, LinearProbeConfig(epochs=30, batch_size=32, val_fraction=0.2), seed=0)
    assert (res.test_scores.argmax(1) == yte).float().mean().item() > 0.85
    assert len(res.train_loss) == 30 and res.train_loss[-1] < 0.5 * res.train_loss[0]
    assert len(res.val_top1) == 30
    assert res.num_val > 0 and res.num_fit + res.num_val == len(ytr)  # the carve comes out of the training set
    again = train_linear_probe(xtr, ytr, xte, 5, LinearProbeConfig(epochs=30, batch_size=32, val_fraction=0.2), seed=0)
    assert torch.equal(again.test_scores, res.test_scores)  # seeded: reproducible
    chance = train_linear_probe(xtr, ytr[torch.randperm(len(ytr), generator=torch.Generator().manual_seed(3))],
                                xte, 5, LinearProbeConfig(epochs=30, batch_size=32), seed=0)
    assert (chance.test_scores.argmax(1) == yte).float().mean().item() < 0.5  # shuffled labels learn nothing


def test_augmented_views_teach_the_probe_to_ignore_what_they_vary():
    """Training features carry a spurious cue (feature 1 = the label) that the test set lacks; augmented views
    that randomise feature 1 (what a rotation does to a view cue) make the probe use the real signal."""
    g = torch.Generator().manual_seed(0)
    n = 400
    y = torch.randint(0, 2, (n,), generator=g)
    sign = 2.0 * y - 1.0
    signal = sign + 1.2 * torch.randn(n, generator=g)  # weak, noisy real cue

    def feats(cue: torch.Tensor) -> torch.Tensor:
        return torch.stack([signal, cue], 1)

    train = feats(3.0 * sign)  # strong spurious cue in training
    yte = torch.randint(0, 2, (n,), generator=g)
    test = torch.stack([(2.0 * yte - 1.0) + 0.3 * torch.randn(n, generator=g), -3.0 * (2.0 * yte - 1.0)], 1)
    views = torch.stack([feats(3.0 * torch.randn(n, generator=g)) for _ in range(4)])
    cfg = LinearProbeConfig(epochs=40, batch_size=32, val_fraction=0.2)
    clean = train_linear_probe(train, y, test, 2, cfg, seed=0)
    aug = train_linear_probe(train, y, test, 2, cfg, seed=0, train_views=views)
    acc = [(r.test_scores.argmax(1) == yte).float().mean().item() for r in (clean, aug)]
    assert acc[0] < 0.2 and acc[1] > 0.8, acc  # clean: fooled by the flipped cue; augmented: the real signal
    assert aug.num_fit + aug.num_val == n and len(aug.val_top1) == 40
    again = train_linear_probe(train, y, test, 2, cfg, seed=0, train_views=views)
    assert torch.equal(again.test_scores, aug.test_scores)
    with pytest.raises(ValueError, match="train_views"):
        train_linear_probe(train, y, test, 2, cfg, seed=0, train_views=views[:, :10])


def test_test_time_windows_average_the_probes_softmax():
    """test_views: the test score is the log of the mean softmax over a sequence's features and its windows,
    from the same probe (training does not see them); val_views score the carve the same way."""
    xtr, ytr = clusters(seed=0)
    xte, _ = clusters(n_per=20, seed=1)
    g = torch.Generator().manual_seed(5)
    windows = xte[None] + 0.8 * torch.randn(3, *xte.shape, generator=g)
    cfg = LinearProbeConfig(epochs=10, batch_size=32)
    plain = train_linear_probe(xtr, ytr, torch.cat([xte, *windows]), 5, cfg, seed=0).test_scores
    tta = train_linear_probe(xtr, ytr, xte, 5, cfg, seed=0, test_views=windows).test_scores
    n = len(xte)
    by_hand = sum(plain[k * n:(k + 1) * n].softmax(1) for k in range(4)) / 4
    torch.testing.assert_close(tta.exp(), by_hand)
    carve = LinearProbeConfig(epochs=10, batch_size=32, val_fraction=0.3)
    noisy = xtr[None] + 3.0 * torch.randn(3, *xtr.shape, generator=g)
    a = train_linear_probe(xtr, ytr, xte, 5, carve, seed=0)
    b = train_linear_probe(xtr, ytr, xte, 5, carve, seed=0, val_views=noisy)
    assert torch.equal(a.test_scores, b.test_scores) and a.val_top1 != b.val_top1  # only the carve's score moves
    with pytest.raises(ValueError, match="test_views"):
        train_linear_probe(xtr, ytr, xte, 5, cfg, seed=0, test_views=windows[:, :5])


def test_per_class_subset_is_a_pure_function_of_labels_fraction_seed():
    labels = np.repeat(np.arange(4), [100, 50, 10, 3])
    a = per_class_subset(labels, 0.1, seed=7)
    assert np.array_equal(a, per_class_subset(labels, 0.1, seed=7))  # the same on every process
    assert not np.array_equal(a, per_class_subset(labels, 0.1, seed=8))
    assert np.bincount(labels[a], minlength=4).tolist() == [10, 5, 1, 1]  # at least one per class
    assert len(set(a.tolist())) == len(a)


def test_validation_split_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(3), [50, 30, 1])
    tr, va = train_val_split(labels, 0.2, seed=0)
    assert not set(tr) & set(va) and len(tr) + len(va) == len(labels)
    assert np.bincount(labels[va], minlength=3).tolist() == [10, 6, 0]  # a singleton class stays in train


def test_group_validation_split_holds_out_whole_groups():
    """val_group: whole views / subjects are held out (none is on both sides), drawn per seed until the share
    is reached, and at least one group always stays for training."""
    labels = np.tile(np.arange(4), 30)
    groups = np.repeat(np.array(["s1", "s2", "s3", "s4", "s5", "s6"]), 20)
    for seed in range(4):
        tr, va = train_val_split(labels, 0.3, seed, groups)
        assert not set(groups[tr]) & set(groups[va]) and len(tr) + len(va) == len(labels)
        assert len(set(groups[va])) == 2 and len(va) == 40  # 20 % is not enough, 40 % is the first >= 30 %
        assert np.array_equal(va, train_val_split(labels, 0.3, seed, groups)[1])  # the same on every process
    assert len({tuple(train_val_split(labels, 0.3, s, groups)[1]) for s in range(6)}) > 1  # the seed draws
    two_views = np.repeat(np.array([1, 2]), 60)
    tr, va = train_val_split(labels, 0.9, 0, two_views)  # never all of them: one view stays in training
    assert len(set(two_views[va])) == 1 and len(tr) == 60
    with pytest.raises(ValueError, match="two groups"):
        train_val_split(labels, 0.2, 0, np.ones(len(labels)))


def test_metrics_by_hand():
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    labels = torch.tensor([0, 1, 1, 2])
    m = classification_metrics(scores, labels, 3)
    assert m["top1"] == 75.0 and m["num_test_samples"] == 4
    assert m["per_class_top1"] == [100.0, 50.0, 100.0]
    assert m["confusion_matrix"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert m["top5"] == 100.0  # top-k clipped to the class count
    with pytest.raises(ValueError, match="scores must be"):
        classification_metrics(scores[:, :2], labels, 3)


def test_fused_scores_average_probabilities():
    a = torch.tensor([[4.0, 0.0], [0.0, 4.0]])
    b = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    fused = fuse_scores([a, b])
    torch.testing.assert_close(fused, (a.softmax(1) + b.softmax(1)) / 2)
    assert fused.argmax(1).tolist() == [0, 1]


def test_results_files_and_paper_table(tmp_path):
    for name, init, top1s in (("mae", "s2i-mae", [80.0, 82.0, 84.0]), ("rand", "random", [40.0])):
        d = tmp_path / name
        write_results(d, {"protocol": "linear", "top1": float(np.mean(top1s)), "top5": 99.0, "seeds": [0, 1, 2],
                          "top1_seeds": mean_std(top1s), "dataset": "nw-ucla", "split": "xview", "stream": "joint",
                          "method": init, "num_test_samples": 100})
    with pytest.raises(ValueError, match=r"a result needs \['top5'"):
        write_results(tmp_path / "bad", {"protocol": "linear", "top1": 1.0})
    res = load_results([tmp_path / "mae", tmp_path / "rand"])
    md = results_table(res)
    # mean ± std over seeds, the 95 % Wilson interval on the column's n test samples, what varied
    assert "| method | linear nw-ucla xview (n=100) |" in md
    assert "| s2i-mae | 82.0 ± 2.0 [73.3–88.3] (3 seeds, 1 checkpoint) |" in md
    assert "| random | 40.0 [30.9–49.8] |" in md and "| mae-free |" not in md and "Wilson" in md
    assert results_table(res, "csv").splitlines()[:2] == ["method,linear nw-ucla xview (n=100)",
                                                          's2i-mae,"82.0 ± 2.0 [73.3–88.3] (3 seeds, 1 checkpoint)"']
    (tmp_path / "junk.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(ValueError, match="junk.json: not an s2i results file"):
        load_results([tmp_path / "junk.json"])


def test_results_table_pools_runs_that_share_a_cell(tmp_path):
    """One pretraining per seed gives one run folder per seed: the cell is their mean ± std, not the last run."""
    def run(name, method, top1s, seeds, checkpoint=None, n=464):
        write_results(tmp_path / name, {"checkpoint_hash": checkpoint or f"sha256:{name}", "num_test_samples": n,
            "protocol": "cross-format", "top1": float(np.mean(top1s)), "top5": 99.0, "seeds": seeds,
            "top1_seeds": mean_std(top1s), "per_seed": [{"seed": s, "top1": t, "top5": 99.0}
                                                        for s, t in zip(seeds, top1s)],
            "dataset": "nw-ucla", "split": "xview", "stream": "joint", "method": method,
            "hyperparameters": {"method": "linear"}})
        return tmp_path / name

    dirs = [run("a0", "arclength", [70.0], [0]), run("a1", "arclength", [72.0], [1]),
            run("a2", "arclength", [80.0], [2]), run("l0", "linear", [60.0, 64.0], [0, 1], "sha256:L"),
            run("l2", "linear", [62.0], [2], "sha256:L"), run("r", "random", [50.0, 52.0], [0, 1])]
    md = results_table(load_results(dirs))
    # 70, 72, 80: not 80.0 (the last run); three pretrainings, so the pretraining seed varies
    assert "| arclength | 74.0 ± 5.3 [69.8–77.8] (3 runs: 3 checkpoints, 3 seeds) |" in md
    assert "| linear | 62.0 ± 2.0 [57.5–66.3] (2 runs: 1 checkpoint, 3 seeds) |" in md  # 60, 64, 62; one pretraining
    assert "| random | 51.0 ± 1.4 [46.5–55.5] (2 seeds, 1 checkpoint) |" in md  # one run: its own seeds
    csv_rows = results_table(load_results(dirs), "csv").splitlines()
    assert csv_rows[1] == 'arclength,"74.0 ± 5.3 [69.8–77.8] (3 runs: 3 checkpoints, 3 seeds)"'  # quoted: commas
    mixed = results_table(load_results([*dirs[:2], run("a9", "arclength", [70.0], [9], n=100)]))
    assert "(n=" not in mixed and "n=464 (3 runs" in mixed  # runs on test sets of different sizes: n per cell


def test_cli_results_prints_the_table(tmp_path, capsys):
    from s2i.cli import main

    write_results(tmp_path / "r", {"protocol": "knn", "top1": 55.5, "top5": 90.0, "seeds": [0], "dataset": "utd-mhad",
                                   "split": "xsub", "stream": "bone", "method": "s2i-mae"})
    assert main(["results", str(tmp_path / "r"), "--format", "csv"]) == 0
    assert capsys.readouterr().out == "method,knn utd-mhad xsub bone\ns2i-mae,55.5\n"
    assert main(["results", str(tmp_path / "missing")]) == 2


def test_wilson_interval_matches_the_published_values():
    from s2i.evaluation.metrics import wilson_interval

    # reference values: Wilson's score interval as scipy gives it, binomtest(k, n).proportion_ci(method="wilson")
    for (k, n), (lo, hi) in {(50, 100): (0.40383, 0.59617), (0, 10): (0.0, 0.27753), (10, 10): (0.72247, 1.0),
                             (1, 10): (0.01788, 0.40415), (81, 263): (0.25529, 0.36621)}.items():
        assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=5e-5), (k, n)
    assert wilson_interval(5, 10, z=1.0) == pytest.approx((0.34924, 0.65076), abs=5e-5)  # z sets the level (68.3 %)
    for bad in ((11, 10), (-1, 10), (0, 0)):
        with pytest.raises(ValueError, match="0 <= correct <= n"):
            wilson_interval(*bad)
