"""Training: the pretraining configuration, data module, LightningModule and the ``pretrain`` entry point.

Import :func:`s2i.training.fit.pretrain` for a run; :mod:`.config` alone does not import Lightning.
"""

from .config import ConfigError, PretrainConfig, apply_overrides, load_config

__all__ = ["ConfigError", "PretrainConfig", "apply_overrides", "load_config"]
