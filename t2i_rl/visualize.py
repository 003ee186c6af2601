"""Image grids with captions (PIL) and simple curves (matplotlib) for people who would rather look than read."""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """``[B, 3, H, W]`` in ``[0, 1]`` -> PIL images."""
    arrays = (images.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return [Image.fromarray(a) for a in arrays]


def make_grid(images: torch.Tensor, captions: list[str] | None = None, columns: int | None = None,
              cell: int = 128) -> Image.Image:
    """A captioned grid; images are upscaled (nearest) to ``cell`` px so that tiny models stay visible."""
    pils = to_pil(images)
    columns = columns or min(len(pils), 8)
    rows = -(-len(pils) // columns)
    caption_h = 30 if captions else 0
    grid = Image.new("RGB", (columns * cell, rows * (cell + caption_h)), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for n, img in enumerate(pils):
        x, y = (n % columns) * cell, (n // columns) * (cell + caption_h)
        grid.paste(img.resize((cell, cell), Image.NEAREST), (x, y))
        if captions:
            text = "\n".join(textwrap.wrap(captions[n], width=max(8, cell // 6))[:2])
            draw.text((x + 2, y + cell + 1), text, fill="black", font=font)
    return grid


def save_grid(images: torch.Tensor, captions: list[str] | None, path: str | Path, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    make_grid(images, captions, **kwargs).save(path)
    return path


def plot_curves(history: list[dict[str, float]], keys: list[str], path: str | Path, title: str = "") -> Path:
    """Line plot of ``keys`` over steps from a list of per-step metric dicts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in keys:
        points = [(i + 1, h[key]) for i, h in enumerate(history) if key in h]
        if points:
            ax.plot(*zip(*points), label=key)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
