"""Device resolution, done once at the boundary (never ``.cuda()`` inside the library)."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"`` into the best available device: cuda, then mps, then cpu.

    Args:
        device: ``"auto"``, or anything ``torch.device`` accepts (``"cpu"``, ``"cuda:1"``).

    Returns:
        A concrete ``torch.device``.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from err
