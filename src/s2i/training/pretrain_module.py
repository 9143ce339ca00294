"""MAEPretrainModule: the LightningModule of S2I pretraining.

It owns one :class:`~s2i.encode.S2IEncoder` per skeleton format (submodules, so each value range is in
every checkpoint), the skeleton augmentations and the MAE. A training step receives small joint
arrays grouped by format, augments and encodes each group on the device with its format's encoder,
concatenates the images and runs the MAE: no per-format branches in the model. Random draws
(augmentation, mask) come from generators seeded by (seed, batch number, rank), never from global RNG
state, so a resumed run repeats the uninterrupted one exactly.

A non-finite loss stops the run (:class:`TrainingDivergedError`): the loss is checked on the device without
waiting for it, and read back every ``trainer.log_every`` steps (every step on a CPU) and before any checkpoint
is written, which also refuses non-finite weights, so the newest checkpoint on disk is always a finite one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from ..data import build_augment, seeded_generator
from ..encode import Draws, S2IConfig, S2IEncoder
from ..encode.device import to_device
from ..formats import FormatSpec
from ..models import MAE, create_backbone
from ..models.latent import ema_momentum
from ..models.optim import step_schedule, weight_decay_groups
from .config import PretrainConfig

__all__ = ["MAEPretrainModule", "TrainingDivergedError"]


class TrainingDivergedError(ValueError):
    """The loss or the weights of a run became NaN or infinite: the run is stopped, nothing is exported."""


class MAEPretrainModule(pl.LightningModule):
    """MAE pretraining on S2I images of one or several formats (see the module docstring).

    ``formats``: {format name: (FormatSpec, (lo, hi) value range)}. ``total_steps``/``warmup_steps``
    fix the schedule; ``total_batch`` (sequences per optimizer step over all devices) scales the lr.
    ``load_init=False`` skips ``model.init`` (a resumed run's checkpoint overwrites the weights anyway,
    and resuming must not need the network).
    """

    def __init__(self, config: PretrainConfig, formats: Mapping[str, tuple[FormatSpec, Any]], total_steps: int,
                 warmup_steps: int, total_batch: int, load_init: bool = True) -> None:
        super().__init__()
        self.config = config
        self.total_steps, self.warmup_steps, self.total_batch = total_steps, warmup_steps, total_batch
        m = config.model
        enc_cfg: S2IConfig = config.encode
        self.encoders = nn.ModuleDict({
            name: S2IEncoder(spec, enc_cfg, range_lo=tuple(rng[0]), range_hi=tuple(rng[1]))
            for name, (spec, rng) in formats.items()})
        self.augments = {name: build_augment(config.augment, spec) for name, (spec, _) in formats.items()}
        backbone, self.init_report = create_backbone(m.backbone, img_size=(enc_cfg.height, enc_cfg.width),
                                                     patch_size=m.patch_size, init=m.init if load_init else None,
                                                     allow_unmatched=m.init_allow_unmatched, **m.backbone_kwargs)
        self.mae = MAE(backbone, decoder_dim=m.decoder_dim, decoder_depth=m.decoder_depth,
                       decoder_heads=m.decoder_heads, mask_ratio=m.mask_ratio, masking=m.masking,
                       norm_pix_loss=m.norm_pix_loss, persons=enc_cfg.image_persons, time_window=m.time_window,
                       target=m.target, motion_tau=m.motion_tau, latent_weight=m.latent_weight,
                       latent_layers=m.latent_layers)
        self._last_loss: torch.Tensor | None = None  # on the device: read (and waited for) only when asked
        self._bad_loss: torch.Tensor | None = None  # on the device: True once a step's loss was not finite

    @property
    def last_loss(self) -> float | None:
        """The loss of the last training step."""
        return None if self._last_loss is None else float(self._last_loss)

    @property
    def lr(self) -> float:
        """Peak learning rate: base_lr x total batch / 256."""
        return self.config.optim.base_lr * self.total_batch / 256.0

    @property
    def backbone(self) -> nn.Module:
        return self.mae.backbone

    @property
    def s2i_encoders(self) -> dict[str, S2IEncoder]:
        """The S2I encoder of each format, by format name."""
        return {name: enc for name, enc in self.encoders.items() if isinstance(enc, S2IEncoder)}

    # --- images on the device ----------------------------------------------------------------
    def images(self, batch: Mapping[str, Any], generator: torch.Generator | None = None) -> torch.Tensor:
        """Format-grouped joints -> augmented, encoded S2I images (N, 3, H, W) in [0, 1], formats concatenated
        in batch order. The encoders run in float32 even under mixed precision. :meth:`draw` then
        :meth:`render`: the same images."""
        return self.render(batch, self.draw(batch, generator))

    def draw(self, batch: Mapping[str, Any], generator: torch.Generator | None = None) -> dict[str, Draws]:
        """The random draws of :meth:`images` (temporal crops, augmentation parameters), per format in batch
        order, from ``generator`` on the CPU, queued to the device."""
        encoders = self.s2i_encoders
        return {fmt: encoders[fmt].draw(sub["joints"].shape, generator, self.augments.get(fmt)).to(self.device)
                for fmt, sub in batch["formats"].items()}

    def render(self, batch: Mapping[str, Any], draws: Mapping[str, Draws]) -> torch.Tensor:
        """The images of ``batch`` with draws made ahead (:meth:`draw`): no random draws and no reads of
        device values, so ``torch.compile(module.render)`` is one graph (benchmarks/train_step.py)."""
        out = []
        for fmt, sub in batch["formats"].items():
            # the encoder moves lengths and confidence itself, without waiting for the GPU's queue
            joints = to_device(sub["joints"], self.device, torch.float32)
            out.append(self.encoders[fmt](joints, sub["length"], sub.get("confidence"),
                                          augment=self.augments.get(fmt), draws=draws[fmt]))
        return torch.cat(out)

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        number = int(batch["batch"])
        images = self.images(batch, seeded_generator(self.config.seed, number, 0xA06))
        loss, _, _ = self.mae(images, seeded_generator(self.config.seed, number, 0x3A5C))
        n = images.shape[0]
        self.log("train/loss", loss, on_step=True, prog_bar=True, batch_size=n, sync_dist=True)
        # host values are logged as CPU tensors: a Python float would be copied to the GPU, waiting for it
        lr = torch.tensor(self.optimizers().param_groups[0]["lr"])  # type: ignore[union-attr]
        self.log("train/lr", lr, on_step=True, batch_size=n)
        self._last_loss = loss.detach()
        bad = ~torch.isfinite(self._last_loss)
        self._bad_loss = bad if self._bad_loss is None else self._bad_loss | bad
        return loss

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The optimizer's step, then the EMA teacher (if any) follows the backbone: inside the step, so a
        checkpoint saved after it holds the teacher of the same step."""
        super().optimizer_step(*args, **kwargs)
        if self.mae.teacher is not None:
            start, end = self.config.model.latent_momentum
            momentum = ema_momentum(self.trainer.global_step, self.total_steps, start, end)
            self.mae.teacher.update(self.mae.backbone, momentum)

    # --- divergence checks --------------------------------------------------------------------
    def _attached_trainer(self) -> pl.Trainer | None:
        """The trainer running this module, None outside a run (Lightning raises on ``.trainer`` then)."""
        try:
            return self.trainer
        except RuntimeError:
            return None

    def check_finite(self, weights: bool = False) -> None:
        """Raise :class:`TrainingDivergedError` when a loss since the start (or, ``weights``, a weight) is not
        finite. Reads a flag back from the device: a wait, done only at log and checkpoint steps."""
        trainer = self._attached_trainer()
        step = int(trainer.global_step) if trainer is not None else 0
        what = None
        bad_loss = self._bad_loss is not None and bool(self._bad_loss)
        if trainer is not None:  # every process stops at the same step, or the others would wait forever
            bad_loss = trainer.strategy.reduce_boolean_decision(bad_loss, all=False)
        if bad_loss:
            what = "the loss is not finite"
        elif weights:
            params = dict(self.mae.named_parameters())
            finite = torch.stack([torch.isfinite(p).all() for p in params.values()])  # one wait, not one a tensor
            bad = [] if bool(finite.all()) else [n for n, ok in zip(params, finite.tolist()) if not ok]
            if bad:
                what = (f"{len(bad)} weight tensor{'s are' if len(bad) > 1 else ' is'} not finite"
                        f" ({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''})")
        if what is not None:
            raise TrainingDivergedError(
                f"training diverged: {what} by step {step}; stopped without exporting an encoder. Lower"
                f" optim.base_lr (now {self.config.optim.base_lr:g}), set optim.grad_clip, or check the --init"
                " weights")

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Every ``trainer.log_every`` steps on an accelerator (every step on a CPU, where it costs no wait)."""
        every = 1 if self.device.type == "cpu" else self.config.trainer.log_every
        if self.trainer.global_step % every == 0:
            self.check_finite()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint is written only when the loss so far and every weight are finite."""
        self.check_finite(weights=True)

    # --- optimisation ----------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        o = self.config.optim
        # MAE: no weight decay on biases, norms, tokens and position embeddings
        opt = torch.optim.AdamW(weight_decay_groups(self.mae, o.weight_decay), lr=self.lr, betas=o.betas)
        return step_schedule(opt, self.warmup_steps, self.total_steps, o.min_lr_ratio)
