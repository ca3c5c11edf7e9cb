"""The ``latentnav`` command line: a thin layer that parses, calls the API and writes artifacts.

Errors a user can cause end with a one-line ``error: ...`` message and a non-zero exit
(2 for unknown names and bad usage, 1 otherwise).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
from pathlib import Path

import click

from latentnav._version import __version__
from latentnav.errors import LatentnavError


def parse_seeds(text: str) -> list[int]:
    """Parse ``"0-7,12"`` into ``[0, 1, ..., 7, 12]``."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, "")
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise click.BadParameter(f"expected seeds like 0-7,12, got {text!r}") from None
    return seeds


class _Group(click.Group):
    """Turns user errors raised inside commands into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LatentnavError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(err.exit_code)
        except (ValueError, FileNotFoundError) as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="latentnav")
def main() -> None:
    """latentnav: controllable directions in the latent spaces of pretrained generators."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def models(as_json: bool) -> None:
    """List the models in the registry (checkpoints.yaml) and whether their weights are here.

    \b
    Example:
      latentnav models
      latentnav models --json
    """
    from latentnav.generators import hub
    from latentnav.generators.registry import default_registry

    reg = default_registry()
    rows = []
    for spec in reg.values():
        rows.append({
            "name": spec.name, "arch": spec.arch, "resolution": spec.img_resolution, "channels": spec.img_channels,
            "z_dim": spec.z_dim, "source": spec.source.describe(), "license": spec.license,
            "available": hub.is_available(spec), "description": spec.description,
        })  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    cols = ["name", "arch", "resolution", "z_dim", "source", "license", "available"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols} if rows else {c: len(c) for c in cols}
    click.echo("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  ".join(str("yes" if r[c] is True else "no" if r[c] is False else r[c]).ljust(widths[c]) for c in cols))


@main.command()
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("-n", type=click.IntRange(1), default=16, help="Number of samples (seeds 0..n-1) unless --seeds.")
@click.option("--seeds", default=None, help="Seeds, e.g. 0-7,12 (one image per seed).")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--upscale", type=click.IntRange(1, 16), default=2, help="Nearest-neighbour upscaling of the grid.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="samples.png", help="Output PNG.")
def sample(model: str, n: int, seeds: str | None, device: str, upscale: int, output: str) -> None:
    """Sample images from a generator into a grid.

    \b
    Example:
      latentnav sample --model bvae-dsprites --seeds 0-15 -o samples.png
    """
    import torch

    from latentnav import viz
    from latentnav.generators.registry import load_generator

    seed_list = parse_seeds(seeds) if seeds else list(range(n))
    G = load_generator(model, device=device)
    with torch.no_grad():
        images = G(G.sample_z(seeds=seed_list))
    path = viz.save_image(viz.grid(images, upscale=upscale), output)
    click.echo(f"wrote {path} ({len(seed_list)} samples of {G.name}, {G.img_channels}x{G.img_resolution}x{G.img_resolution})")


@main.command()
@click.option("--device", default="auto", help="Device to resolve.")
def env(device: str) -> None:
    """Print versions and the device latentnav would use."""
    import numpy
    import torch

    from latentnav.devices import resolve_device

    lines = {
        "latentnav": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "torch": torch.__version__, "numpy": numpy.__version__, "cuda available": torch.cuda.is_available(),
        "device": str(resolve_device(device)), "threads": torch.get_num_threads(),
    }  # fmt: skip
    for k, v in lines.items():
        click.echo(f"{k:15s} {v}")


@main.group()
def train() -> None:
    """Train the generators latentnav ships (beta-VAE family)."""


@train.command("bvae")
@click.option("--beta", type=click.FloatRange(0), default=4.0, help="KL weight (beta-VAE objective).")
@click.option("--steps", type=click.IntRange(1), default=30000, help="Optimizer steps.")
@click.option("--seed", type=int, default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Images per step.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=1e-3, help="Adam learning rate.")
@click.option("--z-dim", type=click.IntRange(1), default=10, help="Number of latents.")
@click.option("--correlate", default=None, help="Couple two factors in the training data, A:B:RHO (e.g. pos_x:pos_y:0.8).")
@click.option("--capacity", type=click.FloatRange(0), default=None, help="Capacity objective: target KL in nats (Burgess et al.).")
@click.option("--capacity-steps", type=click.IntRange(1), default=20000, help="Steps over which the capacity grows.")
@click.option("--gamma", type=click.FloatRange(0), default=100.0, help="Weight of |KL - C| (capacity objective).")
@click.option("--checkpoint-every", type=click.IntRange(1), default=500, help="Steps between checkpoints.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .safetensors.")
def train_bvae(threads: int | None, output: str, **fields) -> None:
    """Train a beta-VAE on procedurally rendered dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train bvae --beta 4 --steps 30000 --seed 0 -o bvae.safetensors
      latentnav train bvae --correlate pos_x:pos_y:0.8 -o bvae-corr.safetensors
    """
    import torch

    from latentnav.train.bvae import BVAEConfig
    from latentnav.train.bvae import train as run

    if not output.endswith(".safetensors"):
        raise click.BadParameter("the output must end in .safetensors", param_hint="--output")
    if threads:
        torch.set_num_threads(threads)
    config = BVAEConfig(**fields)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg_path = out.with_name(out.stem + ".config.json")
    tmp = cfg_path.with_name(".tmp-" + cfg_path.name)
    tmp.write_text(json.dumps({"command": "train bvae", **dataclasses.asdict(config)}, indent=2))
    tmp.replace(cfg_path)
    path = run(config, out)
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
