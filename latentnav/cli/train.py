"""``latentnav train``: the generators latentnav ships (beta-VAE family, two-code VAE, InfoGAN)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from latentnav.cli.app import help_without_command, main
from latentnav.cli.parse import MAX_SEED, FloatRange

FORCE = click.option("--force", is_flag=True, help="Start afresh, replacing an existing model there (and its config, checkpoint, log).")
THREADS = click.option("--threads", type=click.IntRange(1, 256), default=None, help="CPU threads for torch (default: torch's choice).")
CHECKPOINT = click.option("--checkpoint-every", type=click.IntRange(1), default=500, help="Steps between checkpoints.")
OUTPUT = click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .safetensors.")


@main.group(short_help="Train the generators latentnav ships.", invoke_without_command=True)
@click.pass_context
def train(ctx: click.Context) -> None:
    """Train the generators latentnav ships (beta-VAE family, two-code VAE, InfoGAN); each resumes if interrupted."""
    help_without_command(ctx)


def run(command: str, config, module: str, output: str, threads: int | None, force: bool) -> None:
    """Check the output (a refused resume changes no file), train, say where the model is; Ctrl-C writes a
    checkpoint and prints the command that resumes."""
    import importlib

    import torch

    from latentnav.errors import TrainingInterrupted
    from latentnav.train import common

    trainer = importlib.import_module(module)
    out = Path(output).expanduser()
    resuming = common.check_output(out, config, trainer.RESUMABLE_CHANGES, force)
    if threads:
        torch.set_num_threads(threads)
    try:
        path = common.run_training(command, config, trainer.train, out, force=force)
    except TrainingInterrupted as err:
        args = ["latentnav", *(a for a in sys.argv[1:] if a != "--force")]
        raise TrainingInterrupted(f"{err}: {shlex.join(args)}") from None
    click.echo(f"{'resumed and ' if resuming else ''}wrote {path}")


@train.command("bvae", short_help="A beta-VAE on procedural dSprites.")
@click.option("--beta", type=FloatRange(0), default=4.0, help="KL weight (beta-VAE objective).")
@click.option("--steps", type=click.IntRange(1, 100_000_000), default=30000, help="Optimizer steps.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1, 8192), default=64, help="Images per step.")
@click.option("--lr", type=FloatRange(0, min_open=True), default=1e-3, help="Adam learning rate.")
@click.option("--z-dim", type=click.IntRange(1, 4096), default=10, help="Number of latents.")
@click.option("--correlate", default=None, help="Couple two factors in the training data, A:B:RHO (e.g. pos_x:pos_y:0.8).")
@click.option("--capacity", type=FloatRange(0), default=None, help="Capacity objective: target KL in nats (Burgess et al.).")
@click.option("--capacity-steps", type=click.IntRange(1), default=20000, help="Steps over which the capacity grows.")
@click.option("--gamma", type=FloatRange(0), default=100.0, help="Weight of |KL - C| (capacity objective).")
@click.option("--tc-weight", type=FloatRange(0), default=None,
              help="Weight of the total correlation (beta-TCVAE: loss = recon + beta (KL - TC) + tc_weight TC).")
@click.option("--tc-warmup", type=click.IntRange(0), default=0, help="Steps over which the TC weight rises from beta to --tc-weight.")
@CHECKPOINT
@THREADS
@FORCE
@OUTPUT
def train_bvae(threads: int | None, force: bool, output: str, **fields) -> None:
    """Train a beta-VAE on procedurally rendered dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train bvae --beta 4 --steps 30000 --seed 0 -o bvae.safetensors
      latentnav train bvae --correlate pos_x:pos_y:0.8 -o bvae-corr.safetensors
      latentnav train bvae --beta 1 --tc-weight 6 --tc-warmup 2000 --steps 10000 -o tcvae.safetensors   # beta-TCVAE
    """
    from latentnav.train.bvae import BVAEConfig

    run("train bvae", BVAEConfig(**fields), "latentnav.train.bvae", output, threads, force)


@train.command("cmivae", short_help="A two-code VAE with conditional-MI bounds on colour dSprites.")
@click.option("--specified", default="colour", help="The factor z2 carries (colour, shape, scale, orientation, pos_x, pos_y).")
@click.option("--z1-dim", type=click.IntRange(1, 4096), default=8, help="Coordinates of the complementary code z1.")
@click.option("--z2-dim", type=click.IntRange(1, 4096), default=3, help="Coordinates of the specified code z2.")
@click.option("--beta", type=FloatRange(0), default=1.0, help="KL weight of both codes.")
@click.option("--mi-weight", type=FloatRange(0), default=10.0, help="Weight of the conditional-MI lower bounds.")
@click.option("--mi-warmup", type=click.IntRange(0), default=1000, help="Steps over which the MI weight rises from 0.")
@click.option("--label-weight", type=FloatRange(0), default=200.0, help="Weight of the specified factor's likelihood from z2.")
@click.option("--steps", type=click.IntRange(1, 100_000_000), default=3000, help="Optimizer steps.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1, 8192), default=64, help="Images per step.")
@click.option("--lr", type=FloatRange(0, min_open=True), default=1e-3, help="Adam learning rate.")
@CHECKPOINT
@THREADS
@FORCE
@OUTPUT
def train_cmivae(threads: int | None, force: bool, output: str, **fields) -> None:
    """Train a two-code VAE with conditional-MI bounds on colour dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train cmivae --specified colour --steps 3000 -o cmivae-colour.safetensors
    """
    from latentnav.train.cmivae import CMIVAEConfig

    run("train cmivae", CMIVAEConfig(**fields), "latentnav.train.cmivae", output, threads, force)


@train.command("infogan", short_help="A style-based InfoGAN on dSprites or colour dSprites.")
@click.option("--codes", default="cat:3,cont:4", help="Control codes: cat:K (K values) and cont:N (N continuous), comma-separated.")
@click.option("--data", default="dsprites", help="Training data: dsprites (1 channel) or colour (colour dSprites, 3 channels).")
@click.option("--noise-dim", type=click.IntRange(1, 4096), default=8, help="Incompressible noise coordinates.")
@click.option("--info-weight", type=FloatRange(0), default=1.0, help="Weight of the codes' NLL under Q (InfoGAN's lambda).")
@click.option("--resolution", type=click.Choice(["32", "64"]), default="32", help="Image side in pixels.")
@click.option("--steps", type=click.IntRange(1, 100_000_000), default=4000, help="Steps (one D and one G update each).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1, 8192), default=64, help="Real and fake images per step.")
@click.option("--lr", type=FloatRange(0, min_open=True), default=2e-4, help="Adam learning rate.")
@CHECKPOINT
@THREADS
@FORCE
@OUTPUT
def train_infogan(threads: int | None, force: bool, output: str, resolution: str, **fields) -> None:
    """Train a style-based InfoGAN on procedural dSprites or colour dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train infogan --codes cat:3,cont:4 --steps 4000 -o infogan-dsprites.safetensors
      latentnav train infogan --data colour --codes cat:6,cont:4 -o infogan-colour.safetensors
    """
    from latentnav.train.infogan import InfoGANConfig

    run("train infogan", InfoGANConfig(resolution=int(resolution), **fields), "latentnav.train.infogan", output,
        threads, force)  # fmt: skip
