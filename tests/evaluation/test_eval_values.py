"""kNN vote, linear-probe schedule and seeds, score fusion and the kNN protocol's reported scores, pinned on
hand-made inputs (issue 36): a wrong vote, temperature, normalisation or schedule changes a number here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s2i.evaluation.knn import knn_scores
from s2i.evaluation.linear import LinearProbeConfig, train_linear_probe
from s2i.evaluation.metrics import fuse_scores, fuse_views, seed_summary
from s2i.models.optim import warmup_cosine

# five training features at 0, 30, 60, 90 and 180 degrees, of different lengths; labels 0, 1, 1, 0, 2
ANGLES = [0.0, 30.0, 60.0, 90.0, 180.0]
LENGTHS = [2.0, 0.5, 3.0, 1.0, 1.0]
TRAIN = torch.tensor([[r * math.cos(math.radians(a)), r * math.sin(math.radians(a))] for a, r in zip(ANGLES, LENGTHS)])
LABELS = torch.tensor([0, 1, 1, 0, 2])
TEST = torch.tensor([[5.0, 0.0], [-0.1, 0.0]])  # along 0 and along 180 degrees


def _expected(temperature: float) -> dict[int, torch.Tensor]:
    """The weighted vote written out: sum over the k most similar of exp(cos / T) per class."""
    e = lambda c: math.exp(c / temperature)  # noqa: E731
    c30 = math.cos(math.radians(30))
    first = {1: [e(1), 0, 0], 3: [e(1), e(c30) + e(0.5), 0], 5: [e(1) + e(0), e(c30) + e(0.5), e(-1)]}
    # along 180 degrees: similarities -1, -cos30, -0.5, 0, 1 -> nearest: 180 (2), 90 (0), 60 (1), 30 (1), 0 (0)
    second = {1: [0, 0, e(1)], 3: [e(0), e(-0.5), e(1)], 5: [e(0) + e(-1), e(-0.5) + e(-c30), e(1)]}
    return {k: torch.tensor([first[k], second[k]], dtype=torch.float32) for k in (1, 3, 5)}


@pytest.mark.parametrize("temperature", [0.5, 0.1])
def test_knn_vote_on_hand_placed_neighbours(temperature):
    """Cosine similarity (lengths do not matter), the k nearest, exp(similarity / T) summed per class; k = 3
    outvotes k = 1 here (two class-1 neighbours beat one class-0 neighbour at T = 0.5)."""
    out = knn_scores(TRAIN, LABELS, TEST, ks=(1, 3, 5), temperature=temperature)
    exp = _expected(temperature)
    for k in (1, 3, 5):
        torch.testing.assert_close(out[k], exp[k], rtol=1e-5, atol=0)
    if temperature == 0.5:
        assert out[1][0].argmax() == 0 and out[3][0].argmax() == 1
    scaled = knn_scores(TRAIN * torch.tensor([[7.0], [0.1], [1.0], [3.0], [0.5]]), LABELS, TEST * 4.0,
                        ks=(1, 3, 5), temperature=temperature)
    for k in (1, 3, 5):  # L2 normalisation of both sides: lengths never enter
        torch.testing.assert_close(scaled[k], exp[k], rtol=1e-5, atol=0)


def test_knn_defaults_chunks_class_count_and_k_beyond_the_training_set():
    default = knn_scores(TRAIN, LABELS, TEST, ks=(3,))
    torch.testing.assert_close(default[3], _expected(0.07)[3], rtol=1e-4, atol=0)  # temperature 0.07
    chunked = knn_scores(TRAIN, LABELS, TEST, ks=(1, 3, 5), temperature=0.5, chunk=1)
    for k in (1, 3, 5):
        torch.testing.assert_close(chunked[k], _expected(0.5)[k], rtol=1e-5, atol=0)
    wide = knn_scores(TRAIN, LABELS, TEST, ks=(5, 50), num_classes=4, temperature=0.5)
    assert wide[5].shape == (2, 4) and torch.equal(wide[5][:, 3], torch.zeros(2))
    torch.testing.assert_close(wide[50], wide[5])  # k beyond the 5 training samples: all of them
    torch.testing.assert_close(wide[5][:, :3], _expected(0.5)[5], rtol=1e-5, atol=0)
    tie = knn_scores(torch.tensor([[1.0, 0.0], [2.0, 0.0]]), torch.tensor([1, 0]), torch.tensor([[1.0, 0.0]]),
                     ks=(1,), temperature=1.0)
    assert tie[1][0].tolist() == pytest.approx([0.0, math.e])  # a tie goes to the lower training index
    with pytest.raises(ValueError, match="5 training features but 4 labels"):
        knn_scores(TRAIN, LABELS[:4], TEST)


def test_probe_lr_at_chosen_steps():
    assert warmup_cosine(0, 2, 10) == pytest.approx(0.5)
    assert warmup_cosine(1, 2, 10) == pytest.approx(1.0)
    assert warmup_cosine(2, 2, 10) == pytest.approx(1.0)  # the cosine starts at the peak
    assert warmup_cosine(6, 2, 10) == pytest.approx(0.5)
    assert warmup_cosine(10, 2, 10) == pytest.approx(0.0)
    assert warmup_cosine(0, 0, 4, peak=0.3) == pytest.approx(0.3)
    assert warmup_cosine(2, 0, 4, peak=0.3) == pytest.approx(0.15)


def _data(n: int = 20, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 6, generator=g) + 2.0 * torch.nn.functional.one_hot(y, 6).float()
    return x, y


def test_probe_steps_with_the_scaled_lr_warmup_and_cosine(monkeypatch):
    """SGD at base_lr x batch / 256 with the configured momentum and weight decay; per step the warm-up
    (in epochs of steps) then the cosine: 20 samples in batches of 8 are 3 steps an epoch (the last of 4)."""
    seen: list[float] = []
    made: list[dict] = []

    class Spy(torch.optim.SGD):
        def __init__(self, params, **kw):
            made.append(kw)
            super().__init__(params, **kw)

        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "SGD", Spy)
    x, y = _data()
    cfg = LinearProbeConfig(epochs=3, batch_size=8, base_lr=0.64, momentum=0.8, weight_decay=0.01, warmup_epochs=1)
    train_linear_probe(x, y, x[:4], 3, cfg, seed=0)
    peak = 0.64 * 8 / 256
    assert made == [{"lr": pytest.approx(peak), "momentum": 0.8, "weight_decay": 0.01}]
    assert seen == pytest.approx([warmup_cosine(s, 3, 9, peak=peak) for s in range(9)])
    assert seen[:4] == pytest.approx([peak / 3, 2 * peak / 3, peak, peak])


def test_probe_seed_changes_the_run_and_only_the_seed_does(monkeypatch):
    """The seed draws the head's initialisation and the epochs' order (a generator seeded with it); the global
    RNG state does not enter."""
    orders: list[int] = []
    randperm = torch.randperm

    def spy(n, *a, generator=None, **kw):
        orders.append(generator.initial_seed())
        return randperm(n, *a, generator=generator, **kw)

    monkeypatch.setattr(torch, "randperm", spy)
    x, y = _data()
    train_linear_probe(x, y, x, 3, LinearProbeConfig(epochs=2, batch_size=8), seed=5)
    assert orders == [5, 5]
    monkeypatch.setattr(torch, "randperm", randperm)
    cfg = LinearProbeConfig(epochs=3, batch_size=8)
    a = train_linear_probe(x, y, x, 3, cfg, seed=0)
    b = train_linear_probe(x, y, x, 3, cfg, seed=0)
    c = train_linear_probe(x, y, x, 3, cfg, seed=1)
    assert torch.equal(a.test_scores, b.test_scores) and a.train_loss == b.train_loss
    assert not torch.allclose(a.test_scores, c.test_scores)
    torch.manual_seed(123)  # global RNG state does not enter
    d = train_linear_probe(x, y, x, 3, cfg, seed=0)
    assert torch.equal(a.test_scores, d.test_scores)


def test_weighted_fusion_views_and_seed_summary_by_hand():
    s1 = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    s2 = torch.tensor([[0.0, 3.0], [1.0, 0.0]])
    p1, p2 = s1.softmax(-1), s2.softmax(-1)
    torch.testing.assert_close(fuse_scores([s1, s2], [1.0, 3.0]), (p1 + 3 * p2) / 4)
    torch.testing.assert_close(fuse_scores([s1, s2]), (p1 + p2) / 2)
    torch.testing.assert_close(fuse_views([s1, s2]), ((p1 + p2) / 2).log())
    with pytest.raises(ValueError, match="2 score tensors but 1 weights"):
        fuse_scores([s1, s2], [1.0])
    labels = torch.tensor([0, 1])
    res = seed_summary([s1, s2], labels, 2, [7, 9])  # seed 7: both right; seed 9: both wrong
    assert res["top1"] == 50.0 and res["per_seed"] == [{"seed": 7, "top1": 100.0, "top5": 100.0},
                                                       {"seed": 9, "top1": 0.0, "top5": 100.0}]
    assert res["num_test_samples"] == 2 and res["confusion_matrix"] == [[1, 1], [1, 1]]


def test_knn_protocol_reports_the_log_probabilities_of_report_k_at_the_configured_temperature(limb_actions):
    """The saved test scores of a kNN run are log(votes / sum of votes) of knn.report_k, computed with
    knn.temperature on the training features; each k's top-1 is recorded."""
    from safetensors.torch import load_file

    from s2i.evaluation.config import load_eval_config
    from s2i.evaluation.features import encoder_for_store, load_checkpoint, split_features
    from s2i.evaluation.metrics import classification_metrics
    from s2i.evaluation.protocols import run_protocol

    root, store, enc = limb_actions
    cfg = load_eval_config(None, [f"cache_dir={root / 'cache'}", "knn.ks=[1,3,7]", "knn.report_k=3",
                                  "knn.temperature=0.3"])
    res = run_protocol("knn", enc, store.path, root / "knn-values", config=cfg, progress=False)
    saved = load_file(str(root / "knn-values" / "scores.safetensors"))["joint/seed0"]
    ckpt = load_checkpoint(enc)
    e = encoder_for_store(ckpt, store, "xsub")
    tr, ytr, _ = split_features(ckpt, e, store, "xsub", "train", progress=False)
    te, yte, _ = split_features(ckpt, e, store, "xsub", "test", progress=False)
    votes = knn_scores(tr, ytr, te, (1, 3, 7), 4, 0.3)
    expected = (votes[3] / votes[3].sum(1, keepdim=True)).log()
    torch.testing.assert_close(saved, expected.clamp_min(math.log(1e-12)), rtol=1e-5, atol=1e-5)
    per_k = res.training.knn_top1["joint"][0]
    assert per_k == {str(k): classification_metrics(votes[k], yte, 4)["top1"] for k in (1, 3, 7)}
    assert res.top1 == per_k["3"]
    assert np.isclose(torch.exp(saved).sum(1), 1.0).all()
