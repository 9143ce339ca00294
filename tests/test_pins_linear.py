"""evaluation/linear.py pinned on values (issue 36, mutation round 2): the probe equals a reference written out
here step by step (head, initialisation, optimiser, per-step lr, batches, views, carve, scoring), so a change
to any of them moves a number; and its result fields and shape errors, in full."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from s2i.evaluation.linear import LinearProbeConfig, train_linear_probe
from s2i.evaluation.subsets import train_val_split
from s2i.models.optim import warmup_cosine


def _data(n: int = 22, d: int = 5, k: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    return torch.randn(n, d, generator=g) + 1.5 * nn.functional.one_hot(y, d).float(), y


def _reference(x, y, test, k, cfg, seed, views=None, val=None, val_windows=None, test_windows=None):
    """The probe as documented: BatchNorm1d (no affine, eps 1e-6) + Linear (trunc-normal std 0.01, zero bias,
    after torch.manual_seed(seed)), SGD at base_lr x batch / 256 with warm-up + cosine per step, one seeded
    generator for each epoch's order then its view draw, batches of one sample skipped."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    fc = nn.Linear(x.shape[1], k)
    nn.init.trunc_normal_(fc.weight, std=0.01)
    nn.init.zeros_(fc.bias)
    head = nn.Sequential(nn.BatchNorm1d(x.shape[1], affine=False, eps=1e-6), fc)
    peak = cfg.base_lr * cfg.batch_size / 256
    opt = torch.optim.SGD(head.parameters(), lr=peak, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    per_epoch = math.ceil(len(x) / cfg.batch_size)
    bank = x[None] if views is None else torch.cat([x[None], views])
    losses, accs, step = [], [], 0
    for _ in range(cfg.epochs):
        head.train()
        perm = torch.randperm(len(x), generator=g)
        pick = torch.randint(0, len(bank), (len(x),), generator=g) if len(bank) > 1 else None
        epoch = []
        for s in range(0, len(x), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            if len(idx) < 2:
                continue
            for group in opt.param_groups:
                group["lr"] = warmup_cosine(step, cfg.warmup_epochs * per_epoch, cfg.epochs * per_epoch, peak=peak)
            xb = x[idx] if pick is None else bank[pick[idx], idx]
            loss = nn.functional.cross_entropy(head(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            epoch.append(loss.item())
            step += 1
        losses.append(float(np.mean(epoch)) if epoch else float("nan"))
        if val is not None:
            head.eval()
            with torch.no_grad():
                accs.append(100.0 * (_score(head, val[0], val_windows).argmax(1) == val[1]).float().mean().item())
    head.eval()
    with torch.no_grad():
        return _score(head, test, test_windows), losses, accs


def _score(head, x, windows):
    if windows is None:
        return head(x)
    return torch.stack([head(w).softmax(1) for w in (x, *windows)]).mean(0).log()


CFG = LinearProbeConfig(epochs=4, batch_size=8, base_lr=3.2, momentum=0.7, weight_decay=0.02, warmup_epochs=1)


def test_the_probe_is_the_documented_reference_step_for_step():
    """22 samples in batches of 8: steps of 8, 8, 6 per epoch; the loss per epoch is the mean of its steps."""
    x, y = _data()
    test = _data(7, seed=1)[0]
    got = train_linear_probe(x, y, test, 3, CFG, seed=4)
    scores, losses, _ = _reference(x, y, test, 3, CFG, 4)
    torch.testing.assert_close(got.test_scores, scores, rtol=1e-5, atol=1e-6)
    assert got.train_loss == pytest.approx(losses, rel=1e-5)
    assert got.val_top1 == [] and got.num_fit == 22 and got.num_val == 0 and got.val_groups == []


def test_a_lone_last_sample_is_skipped_and_an_epoch_without_steps_has_a_nan_loss():
    x, y = _data(17)  # batches of 8, 8 and 1: the lone sample is not a step
    cfg = LinearProbeConfig(epochs=3, batch_size=8, base_lr=2.0, warmup_epochs=1)
    got = train_linear_probe(x, y, x[:3], 3, cfg, seed=1)
    scores, losses, _ = _reference(x, y, x[:3], 3, cfg, 1)
    torch.testing.assert_close(got.test_scores, scores, rtol=1e-5, atol=1e-6)
    assert got.train_loss == pytest.approx(losses, rel=1e-5)
    one = train_linear_probe(x[:3], y[:3], x[:2], 3, LinearProbeConfig(epochs=2, batch_size=1), seed=0)
    assert len(one.train_loss) == 2 and all(math.isnan(v) for v in one.train_loss)  # no batch of two: no step


def test_augmented_views_are_drawn_per_sequence_each_epoch_like_the_reference():
    x, y = _data()
    g = torch.Generator().manual_seed(9)
    views = x[None] + torch.randn(2, *x.shape, generator=g)
    got = train_linear_probe(x, y, x[:5], 3, CFG, seed=2, train_views=views)
    scores, losses, _ = _reference(x, y, x[:5], 3, CFG, 2, views=views)
    torch.testing.assert_close(got.test_scores, scores, rtol=1e-5, atol=1e-6)
    assert got.train_loss == pytest.approx(losses, rel=1e-5)


def test_the_carve_is_fitted_out_and_scored_each_epoch_with_its_windows():
    x, y = _data(24)
    cfg = LinearProbeConfig(epochs=3, batch_size=8, base_lr=3.2, val_fraction=0.25)
    g = torch.Generator().manual_seed(3)
    val_windows = x[None] + 2.0 * torch.randn(2, *x.shape, generator=g)
    test_windows = x[None, :6] + torch.randn(2, 6, x.shape[1], generator=g)
    groups = np.repeat(["v1", "v2", "v3"], 8)  # each view holds every class
    got = train_linear_probe(x, y, x[:6], 3, cfg, seed=6, groups=groups, val_views=val_windows,
                             test_views=test_windows)
    tr, va = train_val_split(y.numpy(), 0.25, 6, groups)
    scores, losses, accs = _reference(x[tr], y[tr], x[:6], 3, cfg, 6, val=(x[va], y[va]),
                                      val_windows=val_windows[:, va], test_windows=test_windows)
    torch.testing.assert_close(got.test_scores, scores, rtol=1e-5, atol=1e-5)
    assert got.train_loss == pytest.approx(losses, rel=1e-5)
    assert got.val_top1 == pytest.approx(accs) and len(accs) == 3 and 0 < max(accs) < 100  # in percent
    assert (got.num_fit, got.num_val) == (len(tr), len(va)) == (16, 8)
    assert got.val_groups == sorted({str(v) for v in groups[va]}) and len(got.val_groups) == 1
    plain = train_linear_probe(x, y, x[:6], 3, LinearProbeConfig(epochs=3, batch_size=8, val_fraction=0.25), seed=6)
    tr, va = train_val_split(y.numpy(), 0.25, 6)  # without groups: stratified, no group names
    assert (plain.num_fit, plain.num_val, plain.val_groups) == (len(tr), len(va), [])


def test_the_default_config_and_the_thread_count_restored():
    cfg = LinearProbeConfig()
    assert (cfg.epochs, cfg.batch_size, cfg.base_lr, cfg.momentum, cfg.weight_decay, cfg.warmup_epochs,
            cfg.val_fraction) == (100, 256, 0.1, 0.9, 0.0, 0, 0.0)
    x, y = _data(10)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # one thread inside the probe, the caller's count after it
    try:
        got = train_linear_probe(x, y, x[:2], 3, LinearProbeConfig(epochs=2, batch_size=4), seed=0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    default = train_linear_probe(x, y, x[:2], 3, LinearProbeConfig(epochs=2, batch_size=4))  # seed 0 by default
    assert torch.equal(got.test_scores, default.test_scores)
    torch.testing.assert_close(train_linear_probe(x, y, x[:2], 3, None, 0).test_scores,  # None: the defaults
                               _reference(x, y, x[:2], 3, cfg, 0)[0], rtol=1e-5, atol=1e-6)


def test_view_shapes_are_checked_with_their_messages():
    x, y = _data(6)
    with pytest.raises(ValueError) as e:
        train_linear_probe(x, y, x, 3, CFG, train_views=torch.zeros(2, 5, 5))
    assert str(e.value) == "train_views (2, 5, 5) must be (K, 6, 5)"
    for bad in (torch.zeros(2, 6), torch.zeros(2, 5, 5), torch.zeros(2, 6, 4)):
        with pytest.raises(ValueError) as e:
            train_linear_probe(x, y, x[:6], 3, CFG, test_views=bad)
        assert str(e.value) == f"test_views {tuple(bad.shape)} must be (J, 6, 5)"
    with pytest.raises(ValueError) as e:
        train_linear_probe(x, y, x[:2], 3, CFG, val_views=torch.zeros(1, 2, 5))
    assert str(e.value) == "val_views (1, 2, 5) must be (J, 6, 5)"
    ok = train_linear_probe(x, y, x[:2], 3, LinearProbeConfig(epochs=1, batch_size=4),
                            train_views=torch.zeros(1, 6, 5), test_views=torch.zeros(1, 2, 5))
    assert ok.test_scores.shape == (2, 3)


def test_one_augmented_copy_is_drawn_from_too_and_a_batch_of_two_is_a_step():
    """18 samples in batches of 8: 8, 8 and 2, the last a step (BatchNorm needs two); one augmented copy (two views
    to draw from) is used like several."""
    x, y = _data(18)
    views = x[None] + torch.randn(1, *x.shape, generator=torch.Generator().manual_seed(2))
    got = train_linear_probe(x, y, x[:4], 3, CFG, seed=3, train_views=views)
    scores, losses, _ = _reference(x, y, x[:4], 3, CFG, 3, views=views)
    torch.testing.assert_close(got.test_scores, scores, rtol=1e-5, atol=1e-6)
    assert got.train_loss == pytest.approx(losses, rel=1e-5)
    plain = train_linear_probe(x, y, x[:4], 3, CFG, seed=3)
    assert not torch.allclose(plain.test_scores, got.test_scores)


def test_an_empty_carve_is_not_scored():
    """Every class a singleton: nothing can be held out, so no validation accuracy is reported."""
    x = _data(6)[0]
    y = torch.arange(6)
    got = train_linear_probe(x, y, x[:2], 6, LinearProbeConfig(epochs=2, batch_size=4, val_fraction=0.5), seed=0)
    assert (got.num_fit, got.num_val, got.val_top1) == (6, 0, [])
