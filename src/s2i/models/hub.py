"""Exported encoders on the Hugging Face Hub: ``hf-hub:ORG/NAME`` resolved to a local folder through
``huggingface_hub`` (a download when online, the local cache when offline or unreachable), and
``push_to_hub`` for users who publish one. The folder layout is the one :mod:`.export` writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .export import CARD, META, OLD_META, OLD_WEIGHTS, WEIGHTS, export_files, read_export_meta, write_model_card

__all__ = ["HUB_PREFIX", "hub_folder", "push_to_hub"]

HUB_PREFIX = "hf-hub:"
#: the files of an exported encoder (either layout) that travel to and from the Hub
FILES = (META, WEIGHTS, CARD, OLD_META, OLD_WEIGHTS)


def _repo(name: str) -> tuple[str, str | None]:
    """``hf-hub:ORG/NAME[@REVISION]`` -> (repo id, revision)."""
    repo = name.removeprefix(HUB_PREFIX)
    repo, _, revision = repo.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(f"{name}: expected {HUB_PREFIX}ORG/NAME (optionally @REVISION)")
    return repo, revision or None


def hub_folder(name: str, cache_dir: str | Path | None = None) -> Path:
    """The local folder of ``hf-hub:ORG/NAME[@REVISION]``: downloaded with ``huggingface_hub`` when online, the
    snapshot in the Hugging Face cache (``$HF_HOME/hub``) when ``HF_HUB_OFFLINE=1`` or the Hub is unreachable."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    repo, revision = _repo(name)
    try:
        folder = Path(snapshot_download(repo, revision=revision, allow_patterns=list(FILES), cache_dir=cache_dir))
    except LocalEntryNotFoundError:
        raise FileNotFoundError(f"{name}: not in the local Hugging Face cache, and the Hub cannot be reached"
                                " (offline?); load it once online, or give the folder of an exported encoder") from None
    except RepositoryNotFoundError:
        raise FileNotFoundError(f"{name}: no such model repository on the Hub (or it is private: log in with"
                                " `hf auth login`)") from None
    read_export_meta(folder)  # a repository that is not an s2i encoder says so now
    return folder


def push_to_hub(folder: str | Path, repo_id: str, results: Iterable[Mapping[str, Any] | str | Path] = (),
                private: bool = False, token: str | None = None, commit_message: str | None = None) -> str:
    """Upload an exported encoder (a run folder or its ``encoder/``) to the Hub repository ``repo_id``
    (``ORG/NAME``, created when missing); its model card is rewritten first with ``results`` (results.json
    dicts or paths) and the id it is loaded by. Returns the commit's URL. Needs a login (``hf auth login``)
    or ``token``."""
    import json

    from huggingface_hub import HfApi

    repo, _ = _repo(repo_id)
    meta_file, weights = export_files(folder)
    target = meta_file.parent
    if not weights.is_file():
        raise FileNotFoundError(f"{target}: no {weights.name}: not a complete exported encoder")
    rows = [json.loads(Path(r).read_text(encoding="utf-8")) if isinstance(r, (str, Path)) else dict(r)
            for r in results]
    write_model_card(target, rows, repo)
    api = HfApi(token=token)
    api.create_repo(repo, private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(target), repo_id=repo, allow_patterns=list(FILES),
                             commit_message=commit_message or f"s2i encoder ({read_export_meta(target)['backbone']})")
    return str(getattr(info, "commit_url", info))
