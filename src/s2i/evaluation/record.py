"""``RunRecord``: the schema of ``results.json``, written by the protocols and by fusion, read by attribute.

One pydantic model says what an evaluation run records (metrics, seeds, what was evaluated on which data,
its hyper-parameters, provenance: git commit, run id, environment). Every writer builds one and every
reader (``s2i results``, the README table, the report, the demo, the model card) reads its attributes, so
a result field has one home. Files written before a field existed still load (the field is None); keys
this version does not know are kept as they are (``extra="allow"``) and written back unchanged. A file is
written with the fields that were set, in declaration order, so a record read and written again keeps its
keys.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ..atomic import atomic_path

__all__ = ["RESULTS_FILE", "CheckpointInfo", "DataInfo", "EncoderInfo", "FeatureInfo", "FinetuneRecord",
           "FormatInfo", "FusedFrom", "GitState", "Hyperparameters", "Labelled", "MeanStd", "ProbeRecord",
           "RunRecord", "SeedMetrics", "StreamMetrics", "Training", "load_record", "write_record"]

RESULTS_FILE = "results.json"


def _number(v: Any) -> Any:
    """A finite int or float (not a bool, not a numeric string): what s2i writes for a metric."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{v!r} is not a finite number")
    return v


#: a metric: a finite number, never a bool or a string
Number = Annotated[float, BeforeValidator(_number)]


def _text(v: Any) -> Any:
    if not isinstance(v, str):
        raise ValueError(f"{v!r} is not a string")
    return v


#: a name s2i writes as a string (no coercion of numbers)
Text = Annotated[str, BeforeValidator(_text)]


class _Part(BaseModel):
    """A section of a results file: known fields typed, unknown ones kept."""

    model_config = ConfigDict(extra="allow")


class MeanStd(_Part):
    """Mean and sample std over seeds (``n`` seeds)."""

    mean: Number
    std: Number = 0.0
    n: int = 1


class SeedMetrics(_Part):
    """One seed's top-1 / top-5 (%)."""

    seed: int | None = None
    top1: Number
    top5: Number | None = None


class StreamMetrics(_Part):
    """Metrics of one stream of an ensemble (the fused ones are the record's own)."""

    top1: Number
    top5: Number | None = None
    per_class_top1: list[float | None] | None = None
    num_test_samples: int | None = None
    top1_seeds: MeanStd | None = None
    top5_seeds: MeanStd | None = None
    per_seed: list[SeedMetrics] | None = None


class Labelled(_Part):
    """The training samples of one seed: how many, their ids' hash, the model evaluated."""

    seed: int | None = None
    num_labelled: int | None = None
    ids_sha256: str | None = None
    checkpoint_hash: str | None = None


class Hyperparameters(_Part):
    """What a reader must know to compare runs: the method under the protocol and its section of the
    config (stored under the method's name: ``linear``, ``knn`` or ``finetune``), pooling, feature blocks,
    the semi-supervised fraction and the fusion of streams."""

    method: str | None = None
    pooling: str | None = None
    seeds: list[int] | None = None
    linear: dict[str, Any] | None = None
    knn: dict[str, Any] | None = None
    finetune: dict[str, Any] | None = None
    feature_blocks: int | None = None
    semi: dict[str, Any] | None = None
    fusion: dict[str, Any] | None = None

    @field_validator("linear", "knn", "finetune")
    @classmethod
    def _counts(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in ("augmented_copies", "test_crops", "report_k"):
            if v is not None and v.get(key) is not None and (isinstance(v[key], bool) or not isinstance(v[key], int)):
                raise ValueError(f"{key} is {v[key]!r}, not a whole number")
        ks = (v or {}).get("ks")
        if ks is not None and not (isinstance(ks, list) and all(type(k) is int for k in ks)):
            raise ValueError(f"ks is {ks!r}, not a list of whole numbers")
        return v

    @field_validator("semi")
    @classmethod
    def _fraction(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            _number(v.get("fraction", 0))
        return v

    @property
    def method_config(self) -> dict[str, Any]:
        """The config section of :attr:`method` (empty when absent)."""
        found = getattr(self, str(self.method), None) if self.method in ("linear", "knn", "finetune") else None
        return found if isinstance(found, dict) else {}

    @property
    def augmented_copies(self) -> int:
        """Augmented training copies the linear probe also fitted on (0: none)."""
        return int(self.method_config.get("augmented_copies") or 0)

    @property
    def test_crops(self) -> int:
        """Test-time crops averaged with the whole sequence (0: the whole sequence alone)."""
        return int(self.method_config.get("test_crops") or 0)

    @property
    def semi_fraction(self) -> float:
        """The labelled fraction of a semi-supervised run (0 when not semi-supervised)."""
        return float((self.semi or {}).get("fraction") or 0.0)

    @property
    def knn_ks(self) -> tuple[list[int], int]:
        """kNN's k values and the k of the reported top-1 (``report_k``, else the largest k)."""
        ks = [int(k) for k in (self.knn or {}).get("ks") or []]
        return ks, int((self.knn or {}).get("report_k") or (max(ks) if ks else 0))


class _SeedRecord(_Part):
    """One seed of a trained method: the samples fitted and those held out for validation."""

    seed: int | None = None
    num_fit_samples: int | None = None
    num_val_samples: int | None = None
    val_groups: list[str] | None = None  # the groups held out (a group carve)


class ProbeRecord(_SeedRecord):
    """One seed of a linear probe: its final training loss and validation top-1 per epoch."""

    final_train_loss: float | None = None
    val_top1: list[float] = Field(default_factory=list)

    @property
    def curves(self) -> dict[str, list[float]]:
        """The per-epoch series of this seed, by name (empty ones left out)."""
        return {"val_top1": self.val_top1} if self.val_top1 else {}


class FinetuneRecord(_SeedRecord):
    """One seed of fine-tuning: loss and top-1 per epoch, the reported epoch, the carve scored as the test set."""

    train_loss: list[float] = Field(default_factory=list)
    train_top1: list[float] = Field(default_factory=list)
    val_top1: list[float] = Field(default_factory=list)
    selected_epoch: int | None = None
    wall_s: float | None = None
    val_final_top1: float | None = None

    @property
    def curves(self) -> dict[str, list[float]]:
        """The per-epoch series of this seed, by name (empty ones left out)."""
        return {k: v for k, v in (("train_loss", self.train_loss), ("val_top1", self.val_top1)) if v}


class Training(_Part):
    """Per-seed training records of the method, by stream: the probe's and fine-tuning's (losses,
    validation top-1 per epoch), kNN's top-1 at every k (``{k: top-1}``, keys as strings)."""

    linear: dict[str, list[ProbeRecord]] | None = None
    finetune: dict[str, list[FinetuneRecord]] | None = None
    knn_top1: dict[str, list[dict[str, float]]] | None = None


class DataInfo(_Part):
    """The store evaluated on."""

    store: str | None = None
    dataset: str | None = None
    format: str | None = None
    dims_evaluated: int | None = None
    content_hash: str | None = None


class FormatInfo(_Part):
    """The skeleton format evaluated and the ones the checkpoint was pretrained on; 3D seen as 2D."""

    checkpoint_formats: list[str] | None = None
    evaluated_format: str | None = None
    format_seen_in_pretraining: bool | None = None
    drop_depth: bool = False
    projection: str | None = None


class FeatureInfo(_Part):
    """Frozen features: computed once per stream and model, cached on disk or not."""

    computed_once: bool = True
    cache_dir: str | None = None
    cached: dict[str, bool] = Field(default_factory=dict)
    cache_keys: dict[str, dict[str, str]] | None = None
    augmented_copies: dict[str, list[dict[str, Any]]] | None = None
    test_crops: dict[str, list[dict[str, Any]]] | None = None


class CheckpointInfo(_Part):
    """The evaluated model: its folder, hash (for init=random: the seed and the description's hash) and
    architecture."""

    path: str | None = None
    hash: str | None = None
    init: str | None = None
    backbone: str | None = None
    backbone_kwargs: dict[str, Any] | None = None
    img_size: list[int] | None = None
    patch_size: int | None = None
    formats: list[str] | None = None
    info: dict[str, Any] | None = None


class EncoderInfo(_Part):
    """The S2I encoder that made a stream's images: its options (``S2IConfig``) and value range."""

    config: dict[str, Any]
    value_range: Any = None


class GitState(_Part):
    """The commit of the s2i source that ran, and whether its tracked files differed from it."""

    commit: str
    dirty: bool


class ScoresFile(_Part):
    """The saved test scores beside results.json (for late fusion)."""

    file: str
    sha256: str


class FusedFrom(_Part):
    """One run a fused result came from."""

    path: str
    run_id: str | None = None
    results_sha256: str | None = None
    scores_sha256: str | None = None
    streams: list[str] = Field(default_factory=list)
    method: str | None = None
    checkpoint_hash: str | None = None
    top1: Number | None = None
    config: dict[str, Any] | None = None
    hyperparameters: Hyperparameters | None = None


class Environment(_Part):
    """Package versions, device, host and time of a run."""

    versions: dict[str, str] = Field(default_factory=dict)
    device: str | None = None
    host: str | None = None
    time: str | None = None


class RunRecord(_Part):
    """The content of one ``results.json`` (see the module docstring); ``path`` and ``sha256``: the file it
    was read from, None for a record not read from a file."""

    protocol: Text
    top1: Number
    top5: Number
    per_class_top1: list[float | None] | None = None
    confusion_matrix: list[list[int]] | None = None
    num_test_samples: int | None = None
    top1_seeds: MeanStd | None = None
    top5_seeds: MeanStd | None = None
    per_seed: list[SeedMetrics] | None = None
    streams: dict[str, StreamMetrics] | None = None
    labelled: list[Labelled] | None = None
    method: str | None = None
    init: str | None = None
    seeds: list[int]
    dataset: Text | None
    split: Text
    stream: Text
    num_train_samples: int | None = None
    num_classes: int | None = None
    class_names: list[str] | None = None
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    training: Training = Field(default_factory=Training)
    config: dict[str, Any] | None = None
    data: DataInfo = Field(default_factory=DataInfo)
    data_hashes: dict[str, str | None] | None = None
    checkpoint: CheckpointInfo | None = None
    checkpoint_hash: str | list[str] | None = None
    format: FormatInfo = Field(default_factory=FormatInfo)
    encoders: dict[str, EncoderInfo] | None = None
    features: FeatureInfo | None = None
    models: dict[str, list[dict[str, Any]]] | None = None
    fused_from: list[FusedFrom] | None = None
    environment: Environment | None = None
    git: GitState | None = None
    version: str | None = None
    run_id: str | None = None
    runs_wall_time_s: Number | None = None
    device: str | None = None
    wall_time_s: Number | None = None
    scores: ScoresFile | None = None
    saved_from: dict[str, Any] | None = None
    trimmed: list[str] | None = None

    _path: Path | None = PrivateAttr(None)
    _sha256: str | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        """The results.json this record was read from."""
        return self._path

    @property
    def sha256(self) -> str | None:
        """The hex sha256 of the bytes of that file (identifies runs written before run ids)."""
        return self._sha256

    @property
    def label(self) -> str:
        """The row label of tables: the method, else the initialisation, else "?"."""
        return str(self.method or self.init or "?")

    @property
    def seed_list(self) -> list[int]:
        """The seeds evaluated (from the per-seed metrics where each names its seed)."""
        if self.per_seed and all(s.seed is not None for s in self.per_seed):
            return [int(s.seed) for s in self.per_seed if s.seed is not None]
        return list(self.seeds)

    @property
    def seed_top1s(self) -> list[float]:
        """The top-1 of each seed (the top-1 alone for a record without per-seed metrics)."""
        return [s.top1 for s in self.per_seed] if self.per_seed else [self.top1]

    @property
    def init_seed(self) -> int:
        """The seed of a random initialisation (its config's ``init_seed``; 0 when not recorded)."""
        return int((self.config or {}).get("init_seed") or 0)

    @property
    def content_hash(self) -> str:
        """What identifies the evaluated data: the store's content hash (older files: their data hashes)."""
        if self.data.content_hash:
            return self.data.content_hash
        return str(self.data_hashes) if self.data_hashes else ""

    def dump(self) -> dict[str, Any]:
        """The JSON content: the fields that were set, in declaration order, then unknown keys as read."""
        return self.model_dump(mode="json", exclude_unset=True)


def write_record(out_dir: str | Path, record: RunRecord) -> Path:
    """Write ``out_dir/results.json`` atomically."""
    target = Path(out_dir) / RESULTS_FILE
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(record.dump(), indent=1) + "\n")
    return target


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(map(str, err["loc"])) or "the file"
    if err["type"] == "missing":
        return f"no {where!r}"
    return f"{where!r} is {err.get('input')!r}, not what s2i writes there ({err['msg']})"


def load_record(path: str | Path) -> RunRecord:
    """Read one results.json (a run folder or the file itself); a one-line error names the file and the
    first field that is absent or not what s2i writes."""
    p = Path(path)
    f = p / RESULTS_FILE if p.is_dir() else p
    try:
        raw = f.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as e:
        raise ValueError(f"{f}: cannot read a results file ({e})") from None
    if not isinstance(data, dict) or "protocol" not in data:
        raise ValueError(f"{f}: not an s2i results file (no 'protocol')")
    try:
        record = RunRecord.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"{f}: not an s2i results file: {_first_error(e)}") from None
    record._path, record._sha256 = f, hashlib.sha256(raw).hexdigest()
    return record
