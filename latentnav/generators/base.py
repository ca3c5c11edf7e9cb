"""The Generator contract every model in latentnav stands behind.

Output contract, stated once: ``G(latent)`` returns images as float32 NCHW tensors with nominal range
[-1, 1] (``img_channels`` channels, ``img_resolution`` pixels square), on the generator's device.
Latents are sampled on the CPU from a per-sample seed, so a seed means the same latent (and image) on
every device and in every batch.
"""

from __future__ import annotations

import json
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from latentnav.devices import resolve_device
from latentnav.errors import BadInputError, CheckpointError, LatentnavError, UnknownNameError, WeightsNotFoundError

#: the most latents ``sample_z`` draws in one call (a larger request is a mistake, not a wish for gigabytes)
MAX_SAMPLES = 10_000_000

class Generator(ABC):
    """A pretrained generator behind one ``G(z)`` contract.

    Attributes:
        name: registry name (or the path it was loaded from).
        z_dim: dimension of the input latent ``z``.
        img_resolution: image side in pixels.
        img_channels: 1 (grey) or 3 (RGB).
        latent_spaces: the spaces ``G`` accepts, e.g. ``("z",)`` or ``("z", "w", "w+")``.
        num_classes: 0 when unconditional.
        device: where the weights live.
        batch_size: the chunk size ``G`` uses, so large inputs never run out of memory.
    """

    latent_spaces: tuple[str, ...] = ("z",)
    num_classes: int = 0

    def __init__(
        self,
        *,
        name: str,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        device: str | torch.device = "auto",
        batch_size: int = 256,
    ) -> None:
        self.name = name
        self.z_dim = int(z_dim)
        self.img_resolution = int(img_resolution)
        self.img_channels = int(img_channels)
        self.device = resolve_device(device)
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise BadInputError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)

    # ----------------------------------------------------------------- latents
    def latent_shape(self, space: str = "z") -> tuple[int, ...]:
        """Shape of one latent in ``space`` (without the batch dimension)."""
        self._check_space(space)
        return (self.z_dim,)

    def bind_class(self, class_index: int) -> None:
        """Make ``class_index`` the class every later call generates (class-conditional models).

        Raises:
            BadInputError: the model is not class-conditional, or the index is outside ``0 .. num_classes - 1``.
        """
        if not self.num_classes:
            raise BadInputError(f"{self.name} is not class-conditional: it has no classes to choose from")
        raise NotImplementedError(f"{type(self).__name__} cannot bind a class")

    def sample_z(self, n: int | None = None, seed: int = 0, *, seeds: Sequence[int] | None = None) -> torch.Tensor:
        """Draw latents from the prior, one seed per sample.

        Sample ``k`` comes from seed ``seed + k`` alone, so it is the same whatever ``n`` is, and
        ``--seeds 0-15`` on the CLI gives the same latents as ``sample_z(16, seed=0)``.

        Args:
            n: number of samples (seeds ``seed .. seed + n - 1``).
            seed: first seed.
            seeds: explicit list of seeds instead of ``n``/``seed``.

        Returns:
            [n, z_dim] float32 on the CPU (move it with ``.to(G.device)``).
        """
        if seeds is None:
            if n is None or n < 0:
                raise BadInputError(f"sample_z needs n >= 0 or a list of seeds, got n={n}")
            if n > MAX_SAMPLES:
                raise BadInputError(f"sample_z draws at most {MAX_SAMPLES:,} latents at once, got n={n:,}; draw them in "
                                    "chunks (seeds=range(...)), as latentnav sample -o DIR/ does")  # fmt: skip
            seeds = range(seed, seed + n)
        rows = [self._draw_z(torch.Generator().manual_seed(int(s))) for s in seeds]
        if not rows:
            return torch.empty(0, self.z_dim)
        return torch.stack(rows).float()

    def sample_latent(self, seeds: Sequence[int], space: str = "z") -> torch.Tensor:
        """Starting latents in ``space``, one seed per sample, flattened to [n, prod(latent_shape(space))].

        The default knows only ``"z"`` (:meth:`sample_z`); families with other spaces (StyleGAN2's W and
        W+) override it, e.g. by mapping ``sample_z(seeds=seeds)``. Returned on the CPU.
        """
        self._check_space(space)
        if space != "z":
            raise NotImplementedError(f"{type(self).__name__} cannot sample starting latents in space {space!r}")
        return self.sample_z(seeds=seeds)

    def prior_radius(self, space: str = "z") -> float | None:
        """Radius of the ball the trajectory optimizer keeps latents of ``space`` in, or ``None`` for none.

        For a standard normal z of dimension d this is sqrt(d) (Plumerault et al.: ||z|| <= sqrt(d) keeps
        the optimiser where the generator was trained). Spaces without such a prior (W, W+) return ``None``;
        families with another latent distribution override it.
        """
        self._check_space(space)
        return float(self.z_dim) ** 0.5 if space == "z" else None

    def _draw_z(self, generator: torch.Generator) -> torch.Tensor:
        """One prior sample [z_dim] from ``generator``; standard normal unless a family overrides it."""
        return torch.randn(self.z_dim, generator=generator)

    # ------------------------------------------------------------------ images
    def __call__(self, latent: torch.Tensor, space: str = "z", batch_size: int | None = None) -> torch.Tensor:
        return self.G(latent, space=space, batch_size=batch_size)

    def G(self, latent: torch.Tensor, space: str = "z", batch_size: int | None = None) -> torch.Tensor:
        """Generate images from latents.

        Args:
            latent: [N, *latent_shape(space)] float tensor, on any device.
            space: one of :attr:`latent_spaces`.
            batch_size: chunk size (defaults to :attr:`batch_size`).

        Returns:
            [N, img_channels, img_resolution, img_resolution] float32 in [-1, 1], on :attr:`device`.
            Gradients flow through it (wrap the call in ``torch.no_grad()`` when you do not need them).
        """
        latent = self.check_latent(latent, space).to(self.device)
        step = batch_size or self.batch_size
        chunks = [self._synthesize(self._counted(latent[i : i + step]), space) for i in range(0, latent.shape[0], step)]
        if not chunks:
            shape = (0, self.img_channels, self.img_resolution, self.img_resolution)
            return torch.empty(shape, device=self.device)
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    @property
    def evaluations(self) -> int:
        """Latents this generator has turned into images (or into part of one, e.g. GANSpace's features) so far.

        Every family counts in :meth:`G`, chunk by chunk, as the chunk starts; read the difference around a
        block to cost it (:func:`latentnav.evaluate.count_evals`).
        """
        return getattr(self, "_evaluations", 0)

    def _counted(self, chunk: torch.Tensor) -> torch.Tensor:
        """``chunk``, after adding its rows to :attr:`evaluations` (families that override :meth:`G` call it too)."""
        self._evaluations = self.evaluations + int(chunk.shape[0])
        return chunk

    @abstractmethod
    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        """Generate one chunk; ``latent`` is already checked and on :attr:`device`."""

    # ------------------------------------------------------------------ checks
    def _check_space(self, space: str) -> None:
        if space not in self.latent_spaces:
            raise UnknownNameError("latent space", space, self.latent_spaces, f" (the spaces of {self.name})")

    def check_latent(self, latent: torch.Tensor, space: str = "z") -> torch.Tensor:
        """Validate a batch of latents: a tensor of the right shape, floating point and finite.

        Raises:
            BadInputError: naming the expected shape, e.g. ``expected z of shape [N, 10], got [4, 12]``.
            UnknownNameError: a space this generator does not have.
        """
        expected = self.latent_shape(space)
        want = "[N, " + ", ".join(str(d) for d in expected) + "]"
        if not isinstance(latent, torch.Tensor):
            raise BadInputError(f"expected {space} as a torch.Tensor of shape {want}, got {type(latent).__name__}")
        if latent.ndim != len(expected) + 1 or tuple(latent.shape[1:]) != expected:
            raise BadInputError(f"expected {space} of shape {want}, got {list(latent.shape)}")
        if not latent.is_floating_point():
            raise BadInputError(f"expected {space} as a floating-point tensor of shape {want}, got dtype {latent.dtype}")
        if not torch.isfinite(latent).all():
            raise BadInputError(f"{space} of shape {want} contains NaN or infinite values")
        return latent.float()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, z_dim={self.z_dim}, img_resolution={self.img_resolution}, "
            f"img_channels={self.img_channels}, latent_spaces={self.latent_spaces}, device={self.device})"
        )


@runtime_checkable
class SupportsEncode(Protocol):
    """A generator that can map images back to its latent space (VAEs)."""

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images [N, C, R, R] in [-1, 1] -> posterior mean [N, z_dim]."""
        ...


@runtime_checkable
class SupportsCodeDirection(Protocol):
    """A generator with named control codes that are directions of its latent (InfoGAN's ``cont0``, ``cat1``, ...)."""

    def code_direction(self, code: str) -> Any:
        """The code called ``code`` as a raw :class:`~latentnav.directions.Direction` (lists the known codes)."""
        ...


@runtime_checkable
class SupportsCodeReadout(Protocol):
    """A generator with a recognition network that reads its control codes back from images (InfoGAN's Q).

    ``spec`` describes the codes (a :class:`latentnav.generators.infogan.CodeSpec`: categorical codes
    first, then continuous ones); :meth:`code_readout` gives one column per code in that order.
    """

    spec: Any

    def code_readout(self, images: torch.Tensor) -> torch.Tensor:
        """Images [N, C, R, R] in [-1, 1] -> one column per control code [N, n_codes]."""
        ...


# ------------------------------------------------------------------ reading model files, checked
#: The largest width or dimension latentnav accepts from a model file's settings: far above any released
#: model, low enough that no header can make latentnav build a network of many gigabytes. Shapes are compared
#: on the ``meta`` device before anything is allocated, so the real guard is that comparison; this bound only
#: keeps absurd numbers out of the messages and the meta-device constructors.
MAX_WIDTH = 1 << 16

#: A model file's tensors without their data: name -> (shape, floating point?).
Layout = Mapping[str, tuple[tuple[int, ...], bool]]


def all_finite(x: torch.Tensor) -> bool:
    """Whether every element of ``x`` is finite: ``torch.isfinite(x).all()``, usually from one sum.

    A NaN or an infinity makes the sum NaN or infinite, so a finite sum settles it without the mask of every
    element; only a sum that overflows (finite values near the float's limit) takes the full test.
    """
    x = x.detach()  # no autograd node for the test
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def first_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def require_file(path: str | Path, *, what: str = "model file", missing: type[LatentnavError] = WeightsNotFoundError,
                 bad: type[LatentnavError] = CheckpointError) -> Path:  # fmt: skip
    """``path`` as a Path, when it is a non-empty file; else ``missing`` (no such path) or ``bad`` (one line)."""
    path = Path(path)
    if not path.exists():
        raise missing(f"{path}: no such {what}")
    if not path.is_file():
        raise bad(f"{path}: a directory, not a {what}")
    if path.stat().st_size == 0:
        raise bad(f"{path}: empty file (0 bytes), not a {what}")
    return path


def read_safetensors_layout(path: Path, error: type[LatentnavError] = CheckpointError) -> tuple[dict[str, str], Layout]:
    """The header metadata and the :data:`Layout` of a safetensors file; no tensor data is read.

    Raises:
        ``error``: the file is not a readable safetensors file (empty, truncated, corrupted or another format).
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            layout = {}
            for key in f.keys():
                part = f.get_slice(key)
                dtype = part.get_dtype()
                layout[key] = (tuple(part.get_shape()), dtype.startswith("F") or dtype == "BF16")
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        reason = first_line(err).removeprefix("Error while deserializing header: ")
        raise error(f"{path}: not a readable safetensors file (truncated or corrupted, or another format: "
                    f"{reason})") from None  # fmt: skip
    return meta, layout


def read_safetensors(path: Path, error: type[LatentnavError] = CheckpointError) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file (on the CPU), with one-line errors as :func:`read_safetensors_layout`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise error(f"{path}: not a readable safetensors file (truncated or corrupted: {first_line(err)})") from None


def read_torch_file(path: Path, allowed: Sequence[type] = (), hint: str = "") -> Any:
    """``torch.load(path, weights_only=True)`` (nothing in the file is executed) with one-line errors.

    Args:
        path: a torch file (zip or legacy format).
        allowed: extra classes the file may hold besides tensors and containers (``torch.serialization.safe_globals``).
        hint: appended to the message when the file holds objects outside the allow-list.

    Raises:
        CheckpointError: truncated, corrupted, not a torch file, or holding objects outside the allow-list.
    """
    import pickle

    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message suggests weights_only=False, which latentnav never does: keep only the reason.
        skip = ("Weights only load failed", "Please file an issue", "Check the documentation", "In PyTorch 2.6")
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip() and not ln.strip().startswith(skip)]
        reason = lines[0].rstrip(".") if lines else type(err).__name__
        raise CheckpointError(f"{path.name}: refused: not a plain torch file of tensors (truncated or corrupted, or it "
                              f"holds objects latentnav does not load: {reason}){hint}") from None  # fmt: skip
    except Exception as err:  # noqa: BLE001 - torch.load reports a damaged file as EOFError, RuntimeError, KeyError, ...
        first = first_line(err).split(". ")[0]
        raise CheckpointError(f"{path.name}: not a readable torch file (truncated or corrupted, or another format: "
                              f"{first})") from None  # fmt: skip


def layout_of(tensors: Mapping[str, torch.Tensor]) -> Layout:
    """The :data:`Layout` of loaded tensors."""
    return {k: (tuple(v.shape), v.is_floating_point()) for k, v in tensors.items()}


def expected_layout(build: Callable[[], nn.Module], where: str, settings: str) -> Layout:
    """The :data:`Layout` of the network ``build()`` makes, built on the ``meta`` device (nothing is allocated).

    Raises:
        CheckpointError: ``build`` refuses the settings (``"<where>: settings ... cannot build ...: <reason>"``).
    """
    try:
        with torch.device("meta"):
            net = build()
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: {settings} cannot build the network: {first_line(err)}") from None
    return layout_of(net.state_dict())


def _keys(keys: list[str], limit: int = 3) -> str:
    more = f" (and {len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def check_layout(where: str, expected: Layout, found: Layout, settings: str) -> None:
    """Raise a one-line :class:`CheckpointError` unless ``found`` has exactly ``expected``'s names and shapes.

    Args:
        where: the file, as the message names it.
        expected: what the settings imply (:func:`expected_layout`).
        found: what the file holds (:func:`read_safetensors_layout` or :func:`layout_of`).
        settings: the settings, as the message names them (e.g. ``"settings z_dim=10, fc=40000"``).
    """
    head = f"{where}: {settings} disagree with the tensors:"
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing or unexpected:
        parts = [f"missing {_keys(missing)}"] if missing else []
        parts += [f"unexpected {_keys(unexpected)}"] if unexpected else []
        raise CheckpointError(f"{head} {'; '.join(parts)}")
    for key, (shape, floating) in expected.items():
        got, got_floating = found[key]
        if tuple(got) != tuple(shape):
            raise CheckpointError(f"{head} {key} is {list(got)} in the file, the settings imply {list(shape)}")
        if got_floating != floating:
            kind = "floating-point" if floating else "integer"
            raise CheckpointError(f"{where}: tensor {key} should hold {kind} values; refusing to load it")


def check_finite(where: str, tensors: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`CheckpointError` when a floating-point tensor holds NaN or infinite values (one pass each)."""
    for key, value in tensors.items():
        if value.is_floating_point():
            finite = torch.isfinite(value)
            if not bool(finite.all()):
                bad = int(finite.numel() - finite.sum())
                raise CheckpointError(f"{where}: tensor {key} has {bad} non-finite values; refusing to load it")


def describe_settings(settings: Mapping[str, Any]) -> str:
    """``"settings z_dim=10, img_channels=1"``: the settings as one-line messages name them."""
    return "settings " + ", ".join(f"{k}={v}" for k, v in settings.items()) if settings else "the default settings"


def check_int_settings(where: str, settings: Mapping[str, Any], limits: Mapping[str, tuple[int, int]], *,
                       error: type[LatentnavError] = CheckpointError) -> None:  # fmt: skip
    """Raise ``error`` (one line) on a setting not in ``limits`` or not an integer within its (low, high) limits."""
    unknown = sorted(set(settings) - set(limits))
    if unknown:
        raise error(f"{where}: unknown settings {unknown}; known: {', '.join(limits)}")
    for key, value in settings.items():
        low, high = limits[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
            raise error(f"{where}: setting {key}={value!r} is not an integer in {low}..{high}")


def load_checked(path: Path, build: Callable[[], nn.Module], layout: Layout, settings: str,
                 tensors: Mapping[str, torch.Tensor] | None = None) -> nn.Module:  # fmt: skip
    """``build()`` holding the file's tensors, after its names, shapes and values were checked.

    The order keeps a bad file cheap: the settings are compared with ``layout`` on the meta device first,
    then the tensors are read (unless given) and refused if any is not finite, and only then is the
    network built, from the file's tensors (no random initialisation, nothing allocated twice).

    Args:
        path: the file (named in the messages).
        build: makes the network from the file's settings.
        layout: the file's tensors without their data.
        settings: the settings as the messages name them (:func:`describe_settings`).
        tensors: the tensors, when already read (else read from the safetensors ``path``).

    Raises:
        CheckpointError: settings that cannot build a network, or that disagree with the tensors; a tensor
            that is not finite.
    """
    check_layout(str(path), expected_layout(build, str(path), settings), layout, settings)
    tensors = read_safetensors(path) if tensors is None else tensors
    check_finite(str(path), tensors)
    with torch.device("meta"):
        net = build()
    state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    net.load_state_dict(state, strict=True, assign=True)
    return net


# ------------------------------------------------------------------ latentnav's own weight files (safetensors)
def save_weights(tensors: dict[str, torch.Tensor], path, arch: str, settings: dict, metadata: dict | None = None) -> None:
    """Write ``tensors`` as safetensors with ``arch``, the JSON ``settings`` and ``metadata`` in the header; the file
    appears whole or not at all (temporary name, then renamed)."""
    from latentnav.io import save_safetensors

    meta = {"arch": arch, "settings": json.dumps(settings)}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()})
    save_safetensors(tensors, path, meta)


def read_header(path: str | Path, arch: str) -> tuple[Path, dict[str, str], dict[str, Any], Layout]:
    """Check and read the header of a file written by :func:`save_weights`; no tensor data is read.

    Returns:
        ``(path, header metadata, stored settings, layout)``.

    Raises:
        WeightsNotFoundError: no such file.
        CheckpointError: not a ``.safetensors`` file, unreadable (empty, truncated, corrupted), written for
            another architecture, or with settings that are not a JSON object.
    """
    path = require_file(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"a{'n' if arch[0] in 'aeiou' else ''} {arch} checkpoint must be a .safetensors file "
                              f"written by latentnav, got {path.name}")  # fmt: skip
    meta, layout = read_safetensors_layout(path)
    if meta.get("arch", arch) != arch:
        raise CheckpointError(f"{path}: written for architecture {meta['arch']!r}, not {arch!r}; load it with "
                              f"arch={meta['arch']!r}")  # fmt: skip
    try:
        settings = json.loads(meta.get("settings", "{}"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: the settings in its header are not valid JSON ({err})") from None
    if not isinstance(settings, dict):
        raise CheckpointError(f"{path}: the settings in its header are not a JSON object: {meta['settings'][:60]}")
    return path, meta, settings, layout


def load_weights(path, arch: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """``(header metadata, tensors)`` of a file written by :func:`save_weights`; nothing in it is executed.

    The tensors are checked to be finite; their names and shapes are not (see :func:`load_checked`).

    Raises:
        WeightsNotFoundError: no such file.
        CheckpointError: see :func:`read_header`; a tensor that is not finite.
    """
    path, meta, _, _ = read_header(path, arch)
    tensors = read_safetensors(path)
    check_finite(str(path), tensors)
    return meta, tensors
