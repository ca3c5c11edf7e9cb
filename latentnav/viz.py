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


def save_images(images: torch.Tensor, paths: list[Path]) -> None:
    """Save each image of [N, C, H, W] as its own picture at ``paths[k]`` (format from the extension)."""
    for arr, path in zip(to_uint8(images), paths):
        Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(path)


def traversal_grid(images: torch.Tensor, upscale: int = 2, labels: list[str] | None = None,
                   row_labels: list[str] | None = None) -> Image.Image:  # fmt: skip
    """A traversal [T, N, C, H, W] as a picture: one row per latent, one column per step.

    Args:
        images: [T, N, C, H, W].
        upscale: nearest-neighbour upscaling.
        labels: one caption per column (``t +0.1``), drawn above it.
        row_labels: one caption per row (``seed 10000``), drawn at its left.
    """
    picture = grid(images.transpose(0, 1), upscale=upscale)
    if labels is None and row_labels is None:
        return picture
    cell_w = (images.shape[-1] + 2) * upscale
    cell_h = (images.shape[-2] + 2) * upscale
    return label_grid(picture, cell_w, cell_h, labels or [], row_labels or [])


#: height of the caption strip above a labelled grid, and width of the one at its left, in pixels
LABEL_HEIGHT, LABEL_WIDTH = 16, 84


def label_grid(picture: Image.Image, cell_w: int, cell_h: int, columns: list[str], rows: list[str]) -> Image.Image:
    """``picture`` with a caption above each column and at the left of each row (PIL's default font)."""
    from PIL import ImageDraw

    top = LABEL_HEIGHT if columns else 0
    left = LABEL_WIDTH if rows else 0
    background = 32 if picture.mode == "L" else (32, 32, 32)
    ink = 230 if picture.mode == "L" else (230, 230, 230)
    out = Image.new(picture.mode, (picture.width + left, picture.height + top), background)
    out.paste(picture, (left, top))
    draw = ImageDraw.Draw(out)
    for k, text in enumerate(columns):
        draw.text((left + k * cell_w + 2, 2), text, fill=ink)
    for k, text in enumerate(rows):
        draw.text((2, top + k * cell_h + cell_h // 2 - 5), text, fill=ink)
    return out


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


# ------------------------------------------------------------------------------------------------ plots
def _pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    fig.savefig(tmp, dpi=120, bbox_inches="tight", format=(path.suffix.lstrip(".") or "png"))
    _pyplot().close(fig)
    tmp.replace(path)
    return path


def plot_steerability(curves: dict[str, tuple], path: str | Path, *, unit: str = "", title: str = "") -> Path:
    """Achieved against requested change, one line per curve with a +-1 std band, and the identity.

    Args:
        curves: label -> ``(t [T], mean achieved [T], std achieved [T])``.
        path: output PNG.
        unit: the axes' unit.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    lo = min(float(np.nanmin(c[0])) for c in curves.values())
    hi = max(float(np.nanmax(c[0])) for c in curves.values())
    ax.plot([lo, hi], [lo, hi], color="0.6", linestyle="--", linewidth=1, label="requested")
    for label, (t, mean, std) in curves.items():
        t, mean, std = (np.asarray(v, dtype=float) for v in (t, mean, std))
        ax.plot(t, mean, marker="o", markersize=3, label=label)
        ax.fill_between(t, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel(f"requested change{f' ({unit})' if unit else ''}")
    ax.set_ylabel(f"achieved change{f' ({unit})' if unit else ''}")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save_figure(fig, path)


def plot_heatmap(matrix, row_labels, col_labels, path: str | Path, *, title: str = "", fmt: str = "{:.2f}",
                 center: bool = True) -> Path:  # fmt: skip
    """A labelled heat map of ``matrix`` [R, C] (values printed in the cells; diverging colours around 0)."""
    plt = _pyplot()
    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * m.shape[1], 0.8 + 0.45 * m.shape[0]))
    bound = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
    im = ax.imshow(m, cmap="RdBu_r" if center else "viridis", vmin=-bound if center else None, vmax=bound if center else None,
                   aspect="auto")  # fmt: skip
    ax.set_xticks(range(m.shape[1]), labels=list(col_labels))
    ax.set_yticks(range(m.shape[0]), labels=list(row_labels))
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, fmt.format(m[i, j]) if np.isfinite(m[i, j]) else "-", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=10)
    return _save_figure(fig, path)
