"""Options several commands share, declared once; flags that set a config field take its default from the config.

The dataclasses read here are light modules (no torch), so ``latentnav -h`` stays fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import click

from latentnav.cli.parse import MAX_SEED, FloatRange

#: the model every command uses unless told otherwise (the embedded default)
DEFAULT_MODEL = "bvae-dsprites"


def model_option(default: str | None = DEFAULT_MODEL, help: str = "Registry name, alias or checkpoint path (see latentnav models)."):
    """``--model / -m``."""
    return click.option("--model", "-m", default=default, required=default is None, help=help)


device_option = click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
extrapolate_option = click.option("--extrapolate", is_flag=True,
                                  help="Allow t beyond the transform's documented range, or raw steps far beyond the prior.")


def force_option(help: str = "Replace an earlier latentnav run directory there (never anything else)."):
    """``--force``."""
    return click.option("--force", is_flag=True, help=help)


def out_dir_option(help: str = "Output directory (written whole at the end; see docs/outputs.md)."):
    """``-o / --output`` naming a run directory."""
    return click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help=help)


#: what --direction accepts, for every command that reads a direction file
DIRECTION_HELP = ("A direction file: .safetensors (latentnav), or with --space a .npy vector, a GANSpace .npz or a "
                  "closed-form factorization .pt (pick one with --component).")


def direction_file_options(fn: Callable) -> Callable:
    """``--space`` and ``--component``: what a direction file made by another tool does not say itself."""
    fn = click.option("--component", type=click.IntRange(0), default=None,
                      help="GANSpace .npz or closed-form .pt: which component to use (default 0).")(fn)
    return click.option("--space", default=None,
                        help="Latent space of a .npy, .npz or .pt direction (z, w, w+: they do not record it).")(fn)


def seed_option(default: int, help: str):
    """``--seed`` (a non-negative integer)."""
    return click.option("--seed", type=click.IntRange(0, MAX_SEED), default=default, help=help)


def config_options(cls: type, specs: Sequence[tuple[str, str, Any, str]]) -> Callable:
    """Options mapping one to one onto fields of the dataclass ``cls``: ``(field, flag, type, help)`` each; the
    command receives them under the field's name, with the field's default."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}

    def decorate(fn: Callable) -> Callable:
        for name, flag, kind, text in reversed(specs):
            fn = click.option(flag, name, type=kind, default=defaults[name], help=text)(fn)
        return fn

    return decorate


def take(options: dict, cls: type, **extra) -> Any:
    """``cls(**fields)`` from the options that are ``cls``'s fields (removed from ``options``), plus ``extra``."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: options.pop(k) for k in list(options) if k in names}, **extra)


def trajectory_options(fn: Callable) -> Callable:
    """The trajectory method's flags (:class:`~latentnav.methods.trajectory.config.TrajectoryConfig`)."""
    from latentnav.methods.trajectory.config import CALIBRATIONS, SCHEDULES, TrajectoryConfig

    return config_options(TrajectoryConfig, [
        ("n_trajectories", "--trajectories", click.IntRange(1, 100_000), "Number of starting latents."),
        ("max_t", "--max-t", FloatRange(0, min_open=True), "Largest |t| followed (default: the transform's range)."),
        ("n_steps", "--steps", click.IntRange(1), "Targets per sign between 0 and max-t."),
        ("lr", "--lr", FloatRange(0, min_open=True), "Adam learning rate on z."),
        ("max_iters", "--max-iters", click.IntRange(1), "Iteration cap per target."),
        ("sigma", "--sigma", FloatRange(0, min_open=True), "Low-pass width of the Fourier loss in pixels (default 3 px at 128 px)."),
        ("loss", "--loss", click.Choice(["fourier", "mse"]), "Fit loss."),
        ("schedule", "--schedule", click.Choice(list(SCHEDULES)), "paper: the reference code's settings (overrides --trajectories, --steps, --lr, --max-iters and --calibration)."),
        ("calibration", "--calibration", click.Choice(list(CALIBRATIONS)),
         "Fit g on the trajectories with the t each fit reached (read back by matching), with the requested t "
         "(paper eq. 6), or on renders along u matched to the transform."),
    ])(fn)  # fmt: skip


def method_options(fn: Callable) -> Callable:
    """The other methods' flags (:class:`~latentnav.methods.MethodSettings`, plus what to pick)."""
    from latentnav.methods import MethodSettings

    fn = config_options(MethodSettings, [
        ("n_components", "--components", click.IntRange(1, 4096), "ganspace/sefa: components computed."),
        ("samples", "--samples", click.IntRange(2, 10_000_000), "ganspace/interfacegan: latents sampled."),
        ("ratio", "--ratio", FloatRange(0, 0.5, min_open=True), "interfacegan: top and bottom fraction of the samples used."),
        ("feature", "--feature", str, "ganspace: module of G.net analysed ('latent' = the latent itself)."),
    ])(fn)  # fmt: skip
    for option in reversed([
        click.option("--attribute", default=None,
                     help="ganspace/sefa: pick the component that moves this meter (pos_x, pos_y, scale, brightness, hue, "
                          "or a scorer module:function) and calibrate it; interfacegan: the attribute to separate."),
        click.option("--scorer", default=None, help="interfacegan: your scorer module:function (images [N,C,H,W] -> [N])."),
        click.option("--component", type=click.IntRange(0), default=0, help="ganspace/sefa without --attribute: the component saved."),
        click.option("--layers", default=None, help="ganspace/sefa on StyleGAN2: W+ layers, e.g. 0-3."),
        click.option("--condition", "conditions", multiple=True, type=click.Path(dir_okay=False),
                     help="interfacegan: a direction file to keep unchanged (repeatable)."),
    ]):  # fmt: skip
        fn = option(fn)
    return fn


def correct_options(fn: Callable) -> Callable:
    """The corrector's flags (:class:`~latentnav.correction.config.CorrectConfig`)."""
    from latentnav.correction.config import OPTIMIZERS, REFITS, CorrectConfig

    return config_options(CorrectConfig, [
        ("n_low", "--samples", click.IntRange(1, 100_000), "Low-density samples synthesized (at most)."),
        ("n_samples", "--scored", click.IntRange(30, 1_000_000), "Latents scored to estimate the joint density (at least 30: the projection's boundary uses the top and bottom tenth)."),
        ("offset", "--offset", FloatRange(0, min_open=True),
         "How far each is moved against the correlation, in standard deviations of the attribute."),
        ("invert_steps", "--invert-steps", click.IntRange(1, 100_000), "Optimisation steps of the inversion."),
        ("refit", "--refit", click.Choice(list(REFITS)),
         "Re-fit through the meters (moves A, holds B on all samples) or by a balanced logistic regression."),
        ("fit_steps", "--fit-steps", click.IntRange(0), "Optimisation steps of the Adam re-fit."),
        ("fit_iterations", "--fit-iterations", click.IntRange(0),
         "Iteration limit of the SLSQP re-fit (the report says whether it converged or stopped there)."),
        ("fit_optimizer", "--fit-optimizer", click.Choice(list(OPTIMIZERS)),
         "Meter re-fit: Adam on minibatches, or SLSQP on all latents at once (the leakage alone, subject to --keep)."),
        ("fit_latents", "--fit-latents", click.IntRange(0),
         "The meter re-fit fits on at most this many latents: the kept inversions (up to half) and scored ones (0: all)."),
        ("hold_others", "--hold-others/--no-hold-others", click.BOOL,
         ("The meter re-fit also holds the other attributes the report reads (on dSprites: scale), so that holding "
          "--against does not push the change into them.")),
        ("hold_margin", "--hold-margin", FloatRange(0),
         ("With --hold-others: how far each other attribute's change per unit of the target's may exceed the base "
          "direction's.")),
        ("fit_keep", "--keep", FloatRange(0, 1),
         "Fraction of the base direction's change per unit step the meter re-fit must keep (it starts from the "
         "projection when that keeps as much, else from the nearest mix of projection and base that does (SLSQP) "
         "or from the base direction (Adam))."),
    ])(fn)  # fmt: skip
