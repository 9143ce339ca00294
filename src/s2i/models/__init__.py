"""Models: timm ViT backbones (vision-pretrained init from hub names or local files), the MAE wrapper for
self-supervised pretraining on S2I images, and the exported-encoder format (weights + S2I encoders)."""

from .backbone import (
    InitReport,
    WeightsUnavailableError,
    create_backbone,
    init_report,
    is_weights_file,
    pool_tokens,
)
from .export import (
    ExportedEncoder,
    export_encoder,
    export_files,
    export_folder,
    is_export,
    load_exported,
    read_export_meta,
    write_model_card,
)
from .mae import MAE, block_ids, patchify, random_masking, sincos_pos_embed_2d

__all__ = [
    "MAE", "ExportedEncoder", "InitReport", "block_ids", "create_backbone", "export_encoder", "init_report",
    "is_weights_file", "load_exported", "export_files", "export_folder", "is_export", "write_model_card", "patchify",
    "pool_tokens", "random_masking", "read_export_meta", "sincos_pos_embed_2d",
    "WeightsUnavailableError",
]
