"""Fine-tuning (issue 36): the optimiser's layer-wise decay and schedule pinned, select=val reporting the
weights of the epoch it names, and scoring without the training augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2i.evaluation import finetune as ft
from s2i.evaluation.config import FinetuneConfig
from s2i.evaluation.finetune import FinetuneModule, build_classifier, finetune, predict
from s2i.models import load_exported
from s2i.models.optim import warmup_cosine


def test_layer_decay_groups_scaled_lr_and_the_schedule(limb_actions):
    """AdamW groups from timm's layer decay: embeddings at decay^2, the block at decay^1, the head at 1
    (a 1-block ViT), every lr = base_lr x batch / 256 x its scale; no weight decay on biases, norms, tokens and
    position embedding; per step a warm-up of warmup_epochs x steps per epoch, then cosine to min_lr_ratio."""
    _, _, enc = limb_actions
    model = load_exported(enc)
    cfg = FinetuneConfig(base_lr=0.256, batch_size=16, layer_decay=0.5, weight_decay=0.1, warmup_epochs=0.5,
                         epochs=3, min_lr_ratio=0.1, drop_path=0.0)
    module = FinetuneModule(build_classifier(model, 4), model.encoder(), model.mean, model.std, 4, cfg,
                            steps_per_epoch=4)
    conf = module.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    assert conf["lr_scheduler"]["interval"] == "step"
    peak = 0.256 * 16 / 256
    names = {id(p): n for n, p in module.classifier.named_parameters()}
    scale, decay = {}, {}
    for g in opt.param_groups:
        assert g["initial_lr"] == pytest.approx(peak * g["lr_scale"])  # before the first warm-up factor
        for p in g["params"]:
            scale[names[id(p)]], decay[names[id(p)]] = g["lr_scale"], g["weight_decay"]
    assert set(scale) == set(names.values())
    assert scale["patch_embed.proj.weight"] == scale["cls_token"] == scale["pos_embed"] == pytest.approx(0.25)
    assert scale["blocks.0.attn.qkv.weight"] == scale["blocks.0.norm1.weight"] == pytest.approx(0.5)
    assert scale["head.weight"] == pytest.approx(1.0)
    assert decay["blocks.0.attn.qkv.weight"] == decay["head.weight"] == decay["patch_embed.proj.weight"] == 0.1
    assert decay["blocks.0.attn.qkv.bias"] == decay["norm.weight"] == decay["cls_token"] == decay["pos_embed"] == 0.0
    head = next(g for g in opt.param_groups if any(names[id(p)] == "head.weight" for p in g["params"]))
    seen = []
    for _ in range(13):
        seen.append(head["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([peak * warmup_cosine(s, 2, 12, 0.1) for s in range(13)])
    assert seen[:3] == pytest.approx([peak / 2, peak, peak])


def _setup(limb_actions):
    _, store, enc = limb_actions
    model = load_exported(enc)
    return store, model, model.encoder(), store.split_ids("xsub", "train"), store.split_ids("xsub", "test")


def test_select_val_reports_the_weights_of_the_epoch_it_names(limb_actions, monkeypatch):
    """The validation accuracy per epoch is scripted (0, 100, 100, 50 %): the first best is epoch 1, the reported
    module holds the weights it had at the end of epoch 1 (not epoch 2's, not a reference to the live ones), and
    the test scores are that module's."""
    store, model, encoder, train_ids, test_ids = _setup(limb_actions)
    real = ft.predict
    snapshots: list[dict[str, torch.Tensor]] = []
    script = [0.0, 1.0, 1.0, 0.5]  # fraction right per epoch

    def scripted(module, st, ids, *args, **kw):
        if len(snapshots) < len(script):  # the selector's calls, one per epoch
            epoch = len(snapshots)
            snapshots.append({k: v.detach().clone() for k, v in module.classifier.state_dict().items()})
            y = torch.from_numpy(st.labels[ids].astype(np.int64))
            wrong = (y + 1) % 4
            right = torch.arange(len(y)) < round(script[epoch] * len(y))
            return torch.nn.functional.one_hot(torch.where(right, y, wrong), 4).float()
        return real(module, st, ids, *args, **kw)

    monkeypatch.setattr(ft, "predict", scripted)
    cfg = FinetuneConfig(epochs=4, batch_size=16, base_lr=0.5, warmup_epochs=0, val_fraction=0.25, select="val",
                         accelerator="cpu", drop_path=0.0, save_models=False)
    res = finetune(model, encoder, store, "xsub", train_ids, test_ids, 4, cfg, seed=0)
    assert res.val_top1 == [0.0, 100.0, 100.0, 50.0] and res.selected_epoch == 1
    assert res.val_final_top1 == 100.0  # the carve's score of the reported model, not the last epoch's
    state = res.module.classifier.state_dict()
    assert all(torch.equal(state[k], snapshots[1][k]) for k in state)
    assert not all(torch.equal(state[k], snapshots[2][k]) for k in state)  # epoch 2 trained on
    monkeypatch.setattr(ft, "predict", real)
    torch.testing.assert_close(res.test_scores, predict(res.module, store, test_ids, 64, 1))


def test_training_steps_augment_and_scoring_does_not(limb_actions, monkeypatch):
    """With augmentation configured, every training step makes its images with a generator (augmented) and
    every scoring call without one, in eval mode; the reported scores are reproducible by predict."""
    store, model, encoder, train_ids, test_ids = _setup(limb_actions)
    calls: list[tuple[bool, bool]] = []
    images = FinetuneModule.images

    def spy(self, batch, generator=None):
        calls.append((generator is not None, self.training))
        return images(self, batch, generator)

    monkeypatch.setattr(FinetuneModule, "images", spy)
    cfg = FinetuneConfig(epochs=1, batch_size=16, warmup_epochs=0, accelerator="cpu", drop_path=0.2,
                         augment={"rotate": 30, "noise": 0.02}, save_models=False)
    res = finetune(model, encoder, store, "xsub", train_ids, test_ids, 4, cfg, seed=0)
    steps = len(train_ids) // 16
    assert calls[:steps] == [(True, True)] * steps  # training: augmented, train mode
    assert calls[steps:] and all(c == (False, False) for c in calls[steps:])  # scoring: plain, eval mode
    monkeypatch.setattr(FinetuneModule, "images", images)
    again = predict(res.module, store, test_ids, 64, 1)
    torch.testing.assert_close(res.test_scores, again)
    res.module.train()  # drop path on: scores would differ, which predict must switch off
    torch.testing.assert_close(predict(res.module, store, test_ids, 64, 1), again)
