"""Feature extraction for users: ``s2i.load_encoder(path)`` → skeletons in, vectors or patch tokens out.

Wraps an exported encoder (:mod:`s2i.models.export`, ``RUN/encoder/`` after ``s2i pretrain``) so that a
user never builds images, batches or devices by hand::

    model = s2i.load_encoder("runs/demo/pretrain")  # a run folder, its encoder/, "hf-hub:ORG/NAME" or "s2i-tiny"
    vectors = model.embed(sequences)                         # (N, D): one vector per sequence
    tokens = model.tokens(sequences)                         # (N, L, D) patch tokens, L = rows x cols of patches

``sequences``: SkeletonSequence(s) (any mix of formats, each group encoded with its own format's
encoder), file paths (read with the matching reader), or a joint array (N, M, T, V, C) / (M, T, V, C)
with ``format=``. A format the model was not pretrained on is encoded with the model's S2I options and
a value range estimated from the given sequences (a warning says so; pass ``value_range=`` from your
training data for features that do not depend on the batch).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .encode import S2IConfig, S2IEncoder, estimate_value_range
from .formats import FormatSpec, get_format
from .models import pool_tokens
from .models.export import ExportedEncoder, load_exported
from .models.optim import resolve_device
from .readers.inputs import read_input
from .skeleton import SkeletonSequence, collate_sequences

__all__ = ["SkeletonFeatureExtractor", "load_encoder"]

Sequences = SkeletonSequence | str | Path | np.ndarray | torch.Tensor | Iterable[SkeletonSequence | str | Path]


class SkeletonFeatureExtractor:
    """A pretrained S2I backbone ready for inference: ``embed`` (one vector each), ``tokens``, ``images``."""

    def __init__(self, model: ExportedEncoder, device: str | torch.device = "auto", batch_size: int = 64,
                 pooling: str = "mean") -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.batch_size = int(batch_size)
        self.pooling = pooling

    @property
    def formats(self) -> list[str]:
        """The skeleton formats the model was pretrained on (others are encoded with its options)."""
        return self.model.formats

    @property
    def embed_dim(self) -> int:
        return self.model.embed_dim

    @property
    def grid(self) -> tuple[int, int]:
        """Patch rows x columns of the token grid (``tokens(...).reshape(N, *grid, D)``)."""
        return tuple(int(g) for g in self.model.backbone.patch_embed.grid_size)  # type: ignore[union-attr,return-value]

    def __repr__(self) -> str:
        m = self.model.meta
        return (f"SkeletonFeatureExtractor({m['backbone']}, image {tuple(m['img_size'])}, formats {self.formats},"
                f" dim {self.embed_dim}, device {self.device})")

    # ----------------------------------------------------------------- inputs
    def _groups(self, sequences: Sequences, format: str | FormatSpec | None,
                lengths: Any) -> list[tuple[str | FormatSpec, list[int], np.ndarray, np.ndarray, np.ndarray | None]]:
        """Inputs → per format: (format, output positions, joints (N, M, T, V, C), lengths, confidence)."""
        if isinstance(sequences, (np.ndarray, torch.Tensor)):
            if format is None:
                raise ValueError("a joint array needs format= (a built-in format name or a spec file)")
            x = sequences.detach().cpu().numpy() if isinstance(sequences, torch.Tensor) else np.asarray(sequences)
            if x.ndim == 4:
                x = x[None]
            if x.ndim != 5:
                raise ValueError(f"joint array must be (N, M, T, V, C) or (M, T, V, C), got shape {x.shape}")
            ln = np.full(len(x), x.shape[2], dtype=np.int64) if lengths is None else np.asarray(lengths, np.int64)
            return [(format, list(range(len(x))), x.astype(np.float32), ln, None)]
        items = [sequences] if isinstance(sequences, (SkeletonSequence, str, Path)) else list(sequences)
        if not items:
            raise ValueError("no sequences given")
        seqs = [s if isinstance(s, SkeletonSequence) else read_input(s, fmt=format) for s in items]
        by_fmt: dict[str, list[int]] = {}
        for i, s in enumerate(seqs):
            by_fmt.setdefault(s.format, []).append(i)
        out = []
        for name, pos in by_fmt.items():
            batch = collate_sequences([seqs[i] for i in pos])
            fmt: str | FormatSpec = format if format is not None else name
            out.append((fmt, pos, batch.joints, batch.lengths, batch.confidence))
        return out

    def encoder_for(self, format: str | FormatSpec, joints: np.ndarray | None = None, lengths: Any = None,
                    value_range: tuple[Sequence[float], Sequence[float]] | None = None) -> S2IEncoder:
        """The S2I encoder for ``format``: the pretrained one, or one with the model's options for a new format."""
        spec = get_format(format) if isinstance(format, str) else format
        if spec.name in self.model.formats and value_range is None:
            return self.model.encoder(spec.name)
        base = self.model.encoder(self.model.formats[0]).config
        cfg = S2IConfig(**{**base.model_dump(), "range_lo": None, "range_hi": None})
        enc = S2IEncoder(spec, cfg)
        if cfg.value_range == "dataset":
            if value_range is None:
                if joints is None:
                    raise ValueError(f"format {spec.name!r} is new to this model: give value_range=(lo, hi)")
                warnings.warn(f"format {spec.name!r} was not seen in pretraining (formats {self.model.formats}): its"
                              f" value range is estimated from the {len(joints)} sequence(s) given; pass"
                              " value_range=(lo, hi) from training data for batch-independent features",
                              stacklevel=3)
                value_range = estimate_value_range(joints, spec, cfg, lengths=lengths)
            enc.set_value_range(list(value_range[0]), list(value_range[1]))
        return enc.to(self.device)

    # ---------------------------------------------------------------- outputs
    @torch.no_grad()
    def _run(self, sequences: Sequences, format: str | FormatSpec | None, lengths: Any,
             value_range: tuple[Sequence[float], Sequence[float]] | None, what: str) -> np.ndarray:
        groups = self._groups(sequences, format, lengths)
        n = sum(len(pos) for _, pos, *_ in groups)
        out: np.ndarray | None = None
        prefix = int(getattr(self.model.backbone, "num_prefix_tokens", 1))
        for fmt, pos, joints, lns, conf in groups:
            enc = self.encoder_for(fmt, joints, lns, value_range)
            for s in range(0, len(pos), self.batch_size):
                sl = slice(s, s + self.batch_size)
                x = torch.from_numpy(np.ascontiguousarray(joints[sl])).to(self.device)
                ln = torch.as_tensor(lns[sl], device=self.device)
                c = None if conf is None else torch.from_numpy(np.ascontiguousarray(conf[sl])).to(self.device)
                img = enc(x, ln, c)
                if what == "images":
                    res = img
                else:
                    tok = self.model.backbone.forward_features(self.model.normalize(img))  # type: ignore[operator]
                    res = pool_tokens(tok, self.pooling, prefix) if what == "embed" else tok[:, prefix:]
                res_np = res.float().cpu().numpy()
                if out is None:
                    out = np.empty((n, *res_np.shape[1:]), dtype=np.float32)
                out[pos[sl]] = res_np
        assert out is not None
        return out

    def embed(self, sequences: Sequences, format: str | FormatSpec | None = None, lengths: Any = None,
              value_range: tuple[Sequence[float], Sequence[float]] | None = None) -> np.ndarray:
        """One feature vector per sequence: (N, embed_dim) float32, in input order (pooling: ``self.pooling``)."""
        return self._run(sequences, format, lengths, value_range, "embed")

    def tokens(self, sequences: Sequences, format: str | FormatSpec | None = None, lengths: Any = None,
               value_range: tuple[Sequence[float], Sequence[float]] | None = None) -> np.ndarray:
        """Final-norm patch tokens (N, rows x cols, embed_dim), row-major over :attr:`grid` (no class token)."""
        return self._run(sequences, format, lengths, value_range, "tokens")

    def images(self, sequences: Sequences, format: str | FormatSpec | None = None, lengths: Any = None,
               value_range: tuple[Sequence[float], Sequence[float]] | None = None) -> np.ndarray:
        """The S2I images the backbone sees, before its mean/std normalisation: (N, 3, H, W) in [0, 1]."""
        return self._run(sequences, format, lengths, value_range, "images")


def load_encoder(path: str | Path, device: str | torch.device = "auto", batch_size: int = 64,
                 pooling: str = "mean") -> SkeletonFeatureExtractor:
    """Load an exported encoder for inference: a run folder, its ``encoder/`` folder, a file in it,
    ``"hf-hub:ORG/NAME[@REVISION]"`` (a Hugging Face Hub repository: downloaded when online, else read from the
    local Hugging Face cache, see :func:`s2i.models.hub.hub_folder`), or the name of an encoder bundled with s2i
    (``"s2i-tiny"``, offline; ``s2i models`` lists them), used only when no local path of that name exists.

    ``device``: "auto" (CUDA when available), "cpu", "cuda:1", ...; ``pooling``: "mean" of the patch
    tokens (what ``s2i eval`` uses by default) or "cls".
    """
    if pooling not in ("mean", "cls"):
        raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
    from .models.bundled import resolve_encoder
    from .models.hub import HUB_PREFIX, hub_folder

    p = hub_folder(str(path)) if str(path).startswith(HUB_PREFIX) else resolve_encoder(path)
    return SkeletonFeatureExtractor(load_exported(p, device="cpu"), device, batch_size, pooling)
