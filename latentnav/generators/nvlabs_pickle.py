"""Read NVlabs network pickles (stylegan2-ada-pytorch, stylegan3) without running any code from them.

An NVlabs ``network-snapshot.pkl`` is a plain ``pickle.dump`` of ``dict(G=..., D=..., G_ema=..., ...)``.
Each network is stored as a call ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` whose
``meta`` holds the full source text of the module that defined it (``module_src``), the class name and
the module's ``__dict__`` (``state``: ``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs``, ...).
NVIDIA's loader ``exec``s ``module_src``; latentnav never does. Instead:

1. the whole opcode stream is scanned first (:func:`scan_globals`) and every global the pickle would
   import is checked against :data:`ALLOWED`; anything else is refused before a single object is built;
2. the pickle is then loaded by :class:`RestrictedUnpickler`, whose ``find_class`` answers only the
   allow-list (a second line of defence): persistent objects become inert :class:`PersistentRecord`
   holders of ``meta``, ``EasyDict`` becomes a dict, tensor storages are read with
   ``torch.load(..., weights_only=True)``;
3. :func:`module_tensors` walks the records and returns the ``state_dict()``-named tensors, and
   :func:`init_kwargs` the constructor arguments.
"""

from __future__ import annotations

import io
import pickle
import pickletools
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from latentnav.errors import CheckpointError


class UnsafePickleError(CheckpointError):
    """A pickle that asks for a global outside the allow-list: refused, nothing was run."""


class PersistentRecord:
    """An inert stand-in for an NVlabs persistent network object: it only keeps ``meta``.

    Attributes:
        meta: ``dict(type, version, module_src, class_name, state)`` as pickled; ``module_src`` is kept
            as text and never executed.
    """

    def __init__(self, meta: Any) -> None:
        if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
            raise CheckpointError("an NVlabs persistent object without the expected meta record (type 'class' and a state dict)")
        self.meta = meta

    @property
    def class_name(self) -> str:
        return str(self.meta.get("class_name", "?"))

    @property
    def state(self) -> dict[str, Any]:
        return self.meta["state"]

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name})"


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access; a subclass so BUILD works)."""


def _load_storage(data: bytes) -> Any:
    """``torch.storage._load_from_bytes``, but with ``weights_only=True`` (the payload is a legacy storage pickle)."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("a tensor storage in the pickle is not stored as bytes")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _numpy_scalar() -> Callable:
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    return scalar


#: (module, name) -> what the unpickler hands out. Everything else is refused.
ALLOWED: dict[tuple[str, str], Callable[[], Any]] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): lambda: PersistentRecord,
    ("dnnlib.util", "EasyDict"): lambda: EasyDict,
    ("dnnlib", "EasyDict"): lambda: EasyDict,
    ("torch.storage", "_load_from_bytes"): lambda: _load_storage,
    ("torch._utils", "_rebuild_tensor_v2"): lambda: torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): lambda: torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): lambda: torch._utils._rebuild_parameter_with_state,
    ("collections", "OrderedDict"): lambda: OrderedDict,
    ("builtins", "set"): lambda: set,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}

_TF_HINT = (" (a TensorFlow-era StyleGAN2 pickle: use its rosinality .pt conversion, e.g. the registry's "
            "stylegan2-*-rosinality models, or NVlabs' legacy.py to re-save it in the PyTorch format)")  # fmt: skip

_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_NO_PUSH = {"PROTO", "FRAME", "STOP", "MEMOIZE"} | _PUT_OPS


def scan_globals(data: bytes) -> set[tuple[str, str]]:
    """Every (module, name) global that unpickling ``data`` would import, read from the opcodes alone.

    Nothing is unpickled. ``STACK_GLOBAL`` takes its names from the two strings pushed just before it
    (directly or through the memo); a ``STACK_GLOBAL`` whose names cannot be told this way is reported
    as ``("?", "?")``, which no allow-list contains.

    Raises:
        CheckpointError: the opcode stream is truncated or malformed.
    """
    found: set[tuple[str, str]] = set()
    pushed: list[Any] = []  # values pushed by recent opcodes: strings, or None for anything else
    memo: dict[int, Any] = {}
    try:
        for op, arg, _ in pickletools.genops(data):
            name = op.name
            if name == "GLOBAL" or name == "INST":
                module, _, attr = str(arg).partition(" ")
                found.add((module, attr))
                pushed.append(None)
            elif name == "STACK_GLOBAL":
                module, attr = (pushed[-2], pushed[-1]) if len(pushed) >= 2 else (None, None)
                ok = isinstance(module, str) and isinstance(attr, str)
                found.add((module, attr) if ok else ("?", "?"))
                pushed.append(None)
            elif name in _STRING_OPS:
                pushed.append(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
            elif name in _GET_OPS:
                pushed.append(memo.get(int(arg)))
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in _PUT_OPS:
                memo[int(arg)] = pushed[-1] if pushed else None
            elif name not in _NO_PUSH:
                pushed.append(None)
            if len(pushed) > 64:
                del pushed[:-8]
    except (ValueError, EOFError) as err:
        raise CheckpointError(f"not a complete pickle (truncated or corrupted: {err})") from None
    return found


def check_globals(data: bytes, allowed: dict[tuple[str, str], Any] = ALLOWED) -> None:
    """Refuse ``data`` unless every global it imports is allowed (see :func:`scan_globals`).

    Raises:
        UnsafePickleError: naming the first refused global and the allowed ones.
    """
    refused = sorted(scan_globals(data) - set(allowed))
    if refused:
        module, attr = refused[0]
        hint = _TF_HINT if module.startswith("dnnlib.tflib") else ""
        known = ", ".join(f"{m}.{n}" for m, n in sorted(allowed))
        raise UnsafePickleError(
            f"refusing to unpickle: it asks for {module}.{attr}, which is not on latentnav's allow-list "
            f"(nothing was run){hint}; allowed: {known}"
        )


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` answers only :data:`ALLOWED`."""

    def find_class(self, module: str, name: str) -> Any:
        make = ALLOWED.get((module, name))
        if make is None:
            raise UnsafePickleError(f"refusing to unpickle: it asks for {module}.{name}, which is not on latentnav's allow-list")
        return make()

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refusing to unpickle: the pickle uses persistent ids, which NVlabs network pickles never do")


def read(path: str | Path) -> Any:
    """Safely unpickle an NVlabs network pickle; networks come back as :class:`PersistentRecord`.

    Raises:
        UnsafePickleError: a global outside the allow-list (checked before anything is built).
        CheckpointError: a truncated or corrupted file.
    """
    path = Path(path)
    data = path.read_bytes()
    where = path.name
    try:
        check_globals(data)
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{where}: {err}") from None
    except CheckpointError as err:
        raise CheckpointError(f"{where}: {err}") from None
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except CheckpointError as err:
        raise type(err)(f"{where}: {err}") from None
    except Exception as err:  # noqa: BLE001 - any failure inside a corrupted pickle is the file's fault
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{where}: not a readable NVlabs pickle (truncated or corrupted: {first})") from None


def module_tensors(record: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """The ``state_dict()`` of a pickled network: parameters and persistent buffers, dotted names.

    Args:
        record: a :class:`PersistentRecord` (e.g. ``data["G_ema"]``).
        prefix: name prefix (used by the recursion).

    Returns:
        name -> detached CPU tensor, e.g. ``mapping.fc0.weight``, ``synthesis.b4.const``.
    """
    state = record.state
    out: dict[str, torch.Tensor] = {}
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for key, value in (state.get(group) or {}).items():
            if value is None or (group == "_buffers" and key in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{prefix}{key} in the pickle is a {type(value).__name__}, not a tensor")
            out[prefix + key] = value.detach()
    for key, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise CheckpointError(f"{prefix}{key} in the pickle is a {type(child).__name__}, not an NVlabs persistent module")
        out.update(module_tensors(child, f"{prefix}{key}."))
    return out


def _plain(value: Any) -> Any:
    """EasyDicts, tuples and numpy scalars -> plain JSON-ready Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def init_kwargs(record: PersistentRecord, positional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The constructor arguments a pickled network was built with (``_init_kwargs``, plus ``_init_args``
    mapped onto ``positional`` names), as plain Python values."""
    state = record.state
    kwargs = _plain(dict(state.get("_init_kwargs") or {}))
    args = list(state.get("_init_args") or ())
    if len(args) > len(positional):
        raise CheckpointError(f"{record.class_name} was built with {len(args)} positional arguments; expected at most {len(positional)}")
    for key, value in zip(positional, args):
        kwargs[key] = _plain(value)
    return kwargs
