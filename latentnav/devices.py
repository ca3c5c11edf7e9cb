"""Device resolution, done once at the boundary (never ``.cuda()`` inside the library)."""

from __future__ import annotations

import torch

from latentnav.errors import DeviceUnavailableError

_KNOWN = "use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into the best available device (cuda, then mps, then cpu) and check any other.

    Args:
        device: ``"auto"``, or anything ``torch.device`` accepts (``"cpu"``, ``"cuda:1"``, ``"mps"``).

    Returns:
        A concrete ``torch.device`` that exists on this machine.

    Raises:
        DeviceUnavailableError: a malformed name, or a device this machine does not have (``cuda`` without
            CUDA, ``cuda:3`` with two GPUs, ``mps`` off Apple silicon).
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if not isinstance(device, torch.device):
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise DeviceUnavailableError(f"unknown device {device!r}: {_KNOWN}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceUnavailableError(f"device {str(device)!r} is not available: this machine has no CUDA device "
                                         f"that torch {torch.__version__} can use; use --device cpu (or auto)")  # fmt: skip
        if device.index is not None and device.index >= count:
            raise DeviceUnavailableError(f"device {str(device)!r} is not available: this machine has {count} CUDA "
                                         f"device{'s' if count > 1 else ''} (cuda:0..cuda:{count - 1})")  # fmt: skip
    elif device.type == "mps" and not _mps_available():
        raise DeviceUnavailableError("device 'mps' is not available (it needs Apple silicon and a torch built with "
                                     "MPS); use --device cpu (or auto)")  # fmt: skip
    elif device.type not in ("cpu", "cuda", "mps"):
        raise DeviceUnavailableError(f"unsupported device {str(device)!r}: {_KNOWN}")
    return device
