"""Pictures: image grids and animated GIFs. [-1, 1] -> uint8 happens only in :func:`to_uint8`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """The one conversion from the [-1, 1] convention to uint8: [N, C, H, W] -> [N, H, W, C] (clamped)."""
    x = ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, upscale: int = 1) -> Image.Image:
    """Tile images [N, C, H, W] (or [R, K, C, H, W] as R rows of K) into one picture."""
    if images.ndim == 5:
        nrow = images.shape[1]
        images = images.reshape(-1, *images.shape[2:])
    arr = to_uint8(images)
    n, h, w, c = arr.shape
    ncol = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / ncol))
    canvas = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad, c), 64, dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, ncol)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = arr[k]
    img = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    return img.resize((img.width * upscale, img.height * upscale), Image.NEAREST) if upscale > 1 else img


def save_image(img: Image.Image, path: str | Path) -> Path:
    """Save a picture atomically (temporary name, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    img.save(tmp, format=(path.suffix.lstrip(".") or "png").upper().replace("JPG", "JPEG"))
    tmp.replace(path)
    return path


def traversal_grid(images: torch.Tensor, upscale: int = 2) -> Image.Image:
    """A traversal [T, N, C, H, W] as a picture: one row per latent, one column per step."""
    return grid(images.transpose(0, 1), upscale=upscale)


def save_gif(frames: torch.Tensor, path: str | Path, upscale: int = 2, duration_ms: int = 120, bounce: bool = True) -> Path:
    """An animated GIF of a traversal [T, N, C, H, W]: frame k shows all N images at step k."""
    pictures = [grid(frames[k], upscale=upscale) for k in range(frames.shape[0])]
    if bounce and len(pictures) > 2:
        pictures = pictures + pictures[-2:0:-1]
    pictures = [p.convert("P", palette=Image.ADAPTIVE) if p.mode == "RGB" else p for p in pictures]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    tmp.replace(path)
    return path
