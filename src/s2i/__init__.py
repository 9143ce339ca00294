"""s2i: Skeleton-to-Image encoding for skeleton action representation learning.

The short API (torch is imported on first use, not by ``import s2i``)::

    seq = s2i.read("walk.bvh")                 # any supported skeleton file -> SkeletonSequence
    images = s2i.encode([seq])                 # S2I images (N, 3, H, W) in [0, 1]
    model = s2i.load_encoder("runs/demo/pretrain")
    vectors = model.embed([seq])               # one feature vector per sequence
    tokens = model.tokens([seq])               # patch tokens, for token-level fusion
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .formats import FormatSpec, get_format, list_formats
    from .skeleton import SkeletonSequence

__version__ = "0.1.0"

__all__ = ["FormatSpec", "SkeletonSequence", "__version__", "encode", "get_format", "list_formats", "load_encoder",
           "read"]

_LAZY = {"encode": ("s2i.encode", None), "load_encoder": ("s2i.embedding", "load_encoder"),
         "read": ("s2i.readers.inputs", "read_input"), "FormatSpec": ("s2i.formats", "FormatSpec"),
         "get_format": ("s2i.formats", "get_format"), "list_formats": ("s2i.formats", "list_formats"),
         "SkeletonSequence": ("s2i.skeleton", "SkeletonSequence")}


def __getattr__(name: str) -> Any:
    """Import the parts (NumPy, torch, timm) only when they are used: ``s2i --help`` needs none of them."""
    if name not in _LAZY:
        raise AttributeError(f"module 's2i' has no attribute {name!r}")
    module, attr = _LAZY[name]
    mod = import_module(module)
    return mod if attr is None else getattr(mod, attr)
