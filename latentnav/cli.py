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


def parse_t_dist(text: str, n: int, seed: int):
    """Draw ``n`` values from ``uniform:LO,HI`` or ``normal:MEAN,STD`` (seeded)."""
    import torch

    kind, _, args = text.partition(":")
    try:
        a, b = (float(v) for v in args.split(","))
    except ValueError:
        raise click.BadParameter(f"expected uniform:LO,HI or normal:MEAN,STD, got {text!r}", param_hint="--t-dist") from None
    gen = torch.Generator().manual_seed(seed)
    if kind == "uniform" and b > a:
        return a + (b - a) * torch.rand(n, generator=gen)
    if kind == "normal" and b > 0:
        return a + b * torch.randn(n, generator=gen)
    raise click.BadParameter(f"expected uniform:LO,HI with LO < HI or normal:MEAN,STD with STD > 0, got {text!r}",
                             param_hint="--t-dist")  # fmt: skip


def parse_range(text: str, name: str) -> tuple[float, float]:
    """Parse ``"LO,HI"``."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LO,HI (e.g. -0.2,0.2), got {text!r}", param_hint=name) from None
    return lo, hi


class _Group(click.Group):
    """Turns user errors raised inside commands into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as err:  # includes BadParameter: one line, exit 2
            _fail(err.format_message(), err.exit_code)
        except LatentnavError as err:
            _fail(str(err), err.exit_code, reported_by_main=type(err).__name__ == "RankError")
        except (ValueError, FileNotFoundError) as err:
            _fail(str(err), 1)
        finally:
            if "latentnav.distributed" in sys.modules:  # only commands that ran data-parallel imported it
                sys.modules["latentnav.distributed"].teardown()


def _fail(message: str, code: int, reported_by_main: bool = False) -> None:
    """Print ``error: message`` (once per run: an error every rank raised is printed by rank 0) and exit."""
    w = sys.modules["latentnav.distributed"].world() if "latentnav.distributed" in sys.modules else None
    if w is None or not w.distributed:
        click.echo(f"error: {message}", err=True)
    elif reported_by_main:  # every rank raised it: rank 0 prints, and the others wait for that before exiting
        if w.is_main:
            click.echo(f"error: {message}", err=True)
        sys.modules["latentnav.distributed"].barrier()
    else:
        click.echo(f"error: rank {w.rank} of {w.size}: {message}", err=True)
    sys.exit(code)


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
@click.option("--direction", type=click.Path(dir_okay=False), default=None,
              help="Shape the output distribution along this direction (with --t-dist).")
@click.option("--t-dist", default=None, help="Distribution of the factor: uniform:LO,HI or normal:MEAN,STD (transform units).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="samples.png", help="Output PNG.")
def sample(model: str, n: int, seeds: str | None, device: str, upscale: int, direction: str | None,
           t_dist: str | None, output: str) -> None:  # fmt: skip
    """Sample images from a generator into a grid.

    With --direction and --t-dist, each sample's factor is set to a draw from the distribution (the
    paper's output-distribution shaping).

    \b
    Example:
      latentnav sample --model bvae-dsprites --seeds 0-15 -o samples.png
      latentnav sample --model bvae-dsprites --direction run/direction.safetensors --t-dist uniform:-0.2,0.2
    """
    import torch

    from latentnav import viz
    from latentnav.generators.registry import load_generator

    seed_list = parse_seeds(seeds) if seeds else list(range(n))
    if (direction is None) != (t_dist is None):
        raise click.UsageError("--direction and --t-dist go together")
    G = load_generator(model, device=device)
    space = "z"
    z = G.sample_z(seeds=seed_list)
    if direction is not None:
        from latentnav.directions import load_direction

        d = load_direction(direction)
        d.check_compatible(G)
        space = d.space
        z = G.sample_latent(seed_list, space)
        t_values = parse_t_dist(t_dist, len(seed_list), seed_list[0] if seed_list else 0)
        z = z + (d.alpha_for(t_values) - d.project(z))[:, None] * d.u
    with torch.no_grad():
        images = G(z.view(-1, *G.latent_shape(space)), space=space)
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


def _launch(device: str):
    """Join a torchrun run if there is one (:func:`latentnav.distributed.setup`); the device this rank uses."""
    from latentnav import distributed

    return distributed.setup(device)


def _is_main() -> bool:
    from latentnav import distributed

    return distributed.world().is_main


def _check_output_dir(path: Path, force: bool) -> None:
    """Refuse an existing, non-empty ``path`` unless ``force`` (checked on rank 0, raised on every rank)."""
    from latentnav import distributed
    from latentnav.errors import OutputExistsError

    def check() -> None:
        if path.exists() and any(path.iterdir()) and not force:
            raise OutputExistsError(f"{path} exists and is not empty; choose another -o or pass --force")

    distributed.on_main(check)


def _write_output_dir(path: Path, write) -> None:
    """On rank 0 only: ``write(tmp)`` into a temporary directory beside ``path``, then rename it to ``path``.

    Called after every collective of the run, so a rank that fails or is stopped earlier leaves nothing
    behind; a failure while writing removes the temporary directory.
    """
    import shutil
    import tempfile

    if not _is_main():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        write(tmp)
        _finish_output_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _prepare_output_dir(path: Path, force: bool) -> Path:
    """A fresh temporary directory beside ``path``; refuses to overwrite unless ``force``."""
    import tempfile

    if path.exists() and any(path.iterdir()) and not force:
        raise click.UsageError(f"{path} exists and is not empty; choose another -o or pass --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))


def _finish_output_dir(tmp: Path, path: Path) -> None:
    import shutil

    if path.exists():
        shutil.rmtree(path)
    tmp.replace(path)


@main.command()
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("--transform", "-t", "transform", default=None,
              help="shift-x, shift-y, zoom, zoom-object, rotate, brightness, contrast, hue (the trajectory method).")
@click.option("--method", type=click.Choice(["trajectory", "ganspace", "sefa", "interfacegan"]), default="trajectory",
              help="How to find the direction.")
@click.option("--attribute", default=None,
              help="ganspace/sefa: pick the component that moves this meter (pos_x, pos_y, scale, brightness, hue, or a scorer module:function) "
                   "and calibrate it; interfacegan: the attribute to separate.")
@click.option("--scorer", default=None, help="interfacegan: your scorer module:function (images [N,C,H,W] -> [N]).")
@click.option("--component", type=click.IntRange(0), default=0, help="ganspace/sefa without --attribute: the component saved.")
@click.option("--components", type=click.IntRange(1), default=10, help="ganspace/sefa: components computed.")
@click.option("--samples", type=click.IntRange(2), default=10_000, help="ganspace/interfacegan: latents sampled.")
@click.option("--ratio", type=click.FloatRange(0, 0.5, min_open=True), default=0.02,
              help="interfacegan: top and bottom fraction of the samples used.")
@click.option("--layers", default=None, help="ganspace/sefa on StyleGAN2: W+ layers, e.g. 0-3.")
@click.option("--feature", default="auto", help="ganspace: module of G.net analysed ('latent' = the latent itself).")
@click.option("--condition", "conditions", multiple=True, type=click.Path(dir_okay=False),
              help="interfacegan: a direction file to keep unchanged (repeatable).")
@click.option("--transforms", default=None,
              help="Batch: several transforms, e.g. shift-x,zoom,brightness (one direction each, DIR/<transform>/).")
@click.option("--classes", default=None,
              help="Batch, class-conditional models: classes, e.g. 0-999 (one direction per class and transform).")
@click.option("--trajectories", type=click.IntRange(1), default=64, help="Number of starting latents.")
@click.option("--max-t", type=float, default=None, help="Largest |t| followed (default: the transform's range).")
@click.option("--steps", type=click.IntRange(1), default=4, help="Targets per sign between 0 and max-t.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=0.05, help="Adam learning rate on z.")
@click.option("--max-iters", type=click.IntRange(1), default=15, help="Iteration cap per target.")
@click.option("--sigma", type=float, default=None, help="Low-pass width of the Fourier loss in pixels (default 3 px at 128 px).")
@click.option("--loss", type=click.Choice(["fourier", "mse"]), default="fourier", help="Fit loss.")
@click.option("--schedule", type=click.Choice(["default", "paper"]), default="default",
              help="paper: the reference code's settings (overrides the optimiser flags).")
@click.option("--calibration", type=click.Choice(["achieved", "trajectories", "matched"]), default="achieved",
              help="Fit g on the trajectories with the t each fit reached (read back by matching), with the "
                   "requested t (paper eq. 6), or on renders along u matched to the transform.")
@click.option("--space", default="z", help="Latent space: z, or w / w+ for StyleGAN2 (see `latentnav models`).")
@click.option("--seed", type=int, default=0, help="First seed of the starting latents.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace an existing output directory.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output directory.")
def discover(model, transform, method, attribute, scorer, component, components, samples, ratio, layers, feature,
             conditions, transforms, classes, trajectories, max_t, steps, lr, max_iters, sigma, loss, schedule,
             calibration, space, seed, device, force, output) -> None:  # fmt: skip
    """Discover a direction: a calibrated one that performs an image transform (trajectory, Plumerault et al.
    2020), or with GANSpace, SeFa or InterFaceGAN.

    Writes DIR/direction.safetensors (+ .json), config.json, metrics.json, traverse.png and traverse.gif;
    the trajectory method adds trajectories.npz, GANSpace and SeFa add components/ (every component) and
    components.png. A batch (--transforms, --classes) writes DIR/<job>/direction.safetensors per job,
    DIR/jobs.json and DIR/config.json.

    Under torchrun the sampling-heavy stages run data-parallel (same result as one process); a batch
    spreads whole jobs over the processes. Only rank 0 writes files.

    \b
    Example:
      latentnav discover --model bvae-dsprites --transform shift-x -o runs/shift-x
      latentnav discover --model dcgan-digiface --transform zoom --schedule paper -o runs/zoom-paper
      latentnav discover --model stylegan2-ffhq-1024 --transform shift-x --space w --device cuda -o runs/ffhq-shift-x
      latentnav discover --method sefa --attribute pos_x -o runs/sefa-x
      latentnav discover --method ganspace --components 5 -o runs/ganspace
      latentnav discover --method interfacegan --attribute scale -o runs/ifg-scale
      latentnav discover --method interfacegan --scorer my_scorers:smile --model dcgan-digiface -o runs/smile
      latentnav discover --transforms shift-x,zoom,brightness -o runs/all
      torchrun --nproc_per_node=8 -m latentnav discover --model biggan-deep-128 --classes 0-999 --transform zoom -o runs/zoom
    """
    if method != "trajectory":
        if transforms is not None or classes is not None:
            raise click.UsageError(f"--transforms and --classes belong to --method trajectory, not {method}")
        if transform is not None:
            from latentnav.measure import TRANSFORM_ATTRIBUTE

            hint = f" (for the attribute it changes: --attribute {TRANSFORM_ATTRIBUTE[transform]})" if transform in TRANSFORM_ATTRIBUTE else ""
            raise click.UsageError(f"--transform belongs to --method trajectory, not {method}{hint}")
        _discover_with(method, model=model, attribute=attribute, scorer=scorer, component=component,
                       components=components, samples=samples, ratio=ratio, layers=layers, feature=feature,
                       conditions=conditions, space=space, seed=seed, device=device, force=force, output=output)  # fmt: skip
        return
    from latentnav.trajectory import TrajectoryConfig

    config = TrajectoryConfig(n_trajectories=trajectories, max_t=max_t, n_steps=steps, lr=lr, max_iters=max_iters,
                              sigma=sigma, loss=loss, schedule=schedule, seed=seed, calibration=calibration)  # fmt: skip
    if transforms is not None or classes is not None:
        if transform is not None and transforms is not None:
            raise click.UsageError("give --transform or --transforms, not both")
        _discover_batch(model=model, transforms=parse_names(transforms) or ([transform] if transform else []),
                        classes=None if classes is None else parse_seeds(classes), config=config, space=space,
                        device=device, force=force, output=output)  # fmt: skip
        return
    if transform is None:
        raise click.UsageError("--method trajectory needs --transform (shift-x, shift-y, zoom, zoom-object, rotate, brightness, contrast, hue)")
    import time

    import numpy as np

    from latentnav import viz
    from latentnav.directions import traverse
    from latentnav.discovery import discover as run_discover
    from latentnav.trajectory import config_dict
    from latentnav.transforms import get_transform

    tf = get_transform(transform)
    out = Path(output)
    t0 = time.perf_counter()
    G = _load_for(model, device, space, force, out)
    direction, traj = run_discover(G, tf, config, space=space, return_trajectories=True)
    metrics = {k: direction.meta[k] for k in ("fit_r2", "generator_evals", "trajectory_seconds", "mean_final_loss",
                                             "fits", "fits_kept")}  # fmt: skip

    def write(tmp: Path) -> None:
        direction.save(tmp / "direction.safetensors")
        np.savez(tmp / "trajectories.npz", **traj.to_numpy())
        (tmp / "config.json").write_text(json.dumps({
            "command": "discover", "model": model, "transform": tf.name, "method": method, "space": space,
            "device": device, "latentnav_version": __version__, "trajectory": config_dict(config),
            "processes": _processes(),
        }, indent=2))  # fmt: skip
        max_show = config.max_t if config.max_t is not None else tf.default_max_t
        t_show = np.linspace(-max_show, max_show, 9)
        images = traverse(G, direction, G.sample_latent(range(10_000, 10_006), space), t=t_show.tolist())
        viz.save_image(viz.traversal_grid(images), tmp / "traverse.png")
        viz.save_gif(images, tmp / "traverse.gif")
        metrics["wall_seconds"] = round(time.perf_counter() - t0, 3)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))

    _write_output_dir(out, write)
    if _is_main():
        click.echo(f"wrote {out}/ (fit R^2 {metrics['fit_r2']:.3f}, {metrics['generator_evals']} generator evaluations, "
                   f"{metrics['wall_seconds']:.1f} s)")  # fmt: skip


def _processes() -> int:
    """How many processes the run had (1 without torchrun)."""
    from latentnav import distributed

    return distributed.world().size


def _load_for(model: str, device: str, space: str, force: bool, out: Path):
    """Join the run, check the output directory and load the generator (checking it has ``space``)."""
    from latentnav.generators.registry import load_generator

    device = _launch(device)
    _check_output_dir(out, force)
    G = load_generator(model, device=device)
    if space not in G.latent_spaces:
        from latentnav.errors import UnknownNameError

        raise UnknownNameError("latent space", space, G.latent_spaces, f" (of {G.name})")
    return G


def _discover_batch(*, model, transforms, classes, config, space, device, force, output) -> None:
    """``latentnav discover --transforms A,B --classes 0-999``: one direction per (class, transform) job."""
    import time

    from tqdm.auto import tqdm

    from latentnav.discovery import Job, check_jobs, discover_jobs
    from latentnav.trajectory import config_dict

    if not transforms:
        raise click.UsageError("a batch needs --transforms A,B (or --transform with --classes)")
    jobs = [Job(tf, c) for c in (classes if classes is not None else [None]) for tf in transforms]
    out = Path(output)
    t0 = time.perf_counter()
    G = _load_for(model, device, space, force, out)
    from latentnav import distributed

    check_jobs(G, jobs)
    w = distributed.world()
    bar = tqdm(total=len(distributed.shard(jobs, w)), disable=not w.is_main, unit="job",
               desc="directions" + (f" (rank 0 of {w.size})" if w.distributed else ""))  # fmt: skip
    directions = discover_jobs(G, jobs, config, space=space, progress=lambda job: bar.update(1))
    bar.close()
    rows = [{"job": job.name, "transform": job.transform, "class_index": job.class_index, "fit_r2": d.meta["fit_r2"],
             "generator_evals": d.meta["generator_evals"], "trajectory_seconds": d.meta["trajectory_seconds"],
             "mean_final_loss": d.meta["mean_final_loss"]} for job, d in zip(jobs, directions)]  # fmt: skip

    def write(tmp: Path) -> None:
        for job, d in zip(jobs, directions):
            (tmp / job.name).mkdir()
            d.save(tmp / job.name / "direction.safetensors")
        (tmp / "jobs.json").write_text(json.dumps(rows, indent=2))
        (tmp / "config.json").write_text(json.dumps({
            "command": "discover", "model": model, "transforms": transforms, "classes": classes, "method": "trajectory",
            "space": space, "device": device, "latentnav_version": __version__, "trajectory": config_dict(config),
            "processes": w.size, "wall_seconds": round(time.perf_counter() - t0, 3),
        }, indent=2))  # fmt: skip

    _write_output_dir(out, write)
    if w.is_main:
        click.echo(f"wrote {out}/ ({len(jobs)} directions on {w.size} process{'es' if w.size > 1 else ''}, "
                   f"{time.perf_counter() - t0:.1f} s)")  # fmt: skip


def parse_layers(text: str | None) -> list[int] | None:
    """Parse ``"0-3,8"`` into ``[0, 1, 2, 3, 8]`` (``None`` stays ``None``)."""
    if text is None:
        return None
    try:
        return parse_seeds(text)
    except click.BadParameter:
        raise click.BadParameter(f"expected layers like 0-3,8, got {text!r}", param_hint="--layers") from None


def _discover_with(method, *, model, attribute, scorer, component, components, samples, ratio, layers, feature,
                   conditions, space, seed, device, force, output) -> None:  # fmt: skip
    """``latentnav discover --method ganspace|sefa|interfacegan``."""
    import numpy as np
    import torch

    from latentnav import viz
    from latentnav.directions import load_direction, traverse
    from latentnav.measure import load_scorer
    from latentnav.methods.find import find_direction

    scorer_fn = load_scorer(scorer) if scorer else None
    out = Path(output)
    G = _load_for(model, device, space, force, out)
    conds = [load_direction(c) for c in conditions]
    for c in conds:
        c.check_compatible(G, space)
    direction, candidates, info = find_direction(
        G, method, space=space, attribute=attribute, scorer=scorer_fn, scorer_name=scorer or "scorer",
        component=component, n_components=components, n_samples=samples, ratio=ratio, layers=parse_layers(layers),
        feature=None if feature == "latent" else feature, conditions=conds, seed=seed)  # fmt: skip

    def write(tmp: Path) -> None:
        direction.save(tmp / "direction.safetensors")
        (tmp / "config.json").write_text(json.dumps({
            "command": "discover", "model": model, "method": method, "space": space, "attribute": attribute,
            "scorer": scorer, "component": component, "components": components, "samples": samples, "ratio": ratio,
            "layers": layers, "feature": feature, "conditions": list(conditions), "seed": seed, "device": device,
            "latentnav_version": __version__, "processes": _processes()}, indent=2))  # fmt: skip
        (tmp / "metrics.json").write_text(json.dumps(info, indent=2, default=float))
        seeds = G.sample_latent(range(10_000, 10_006), direction.space)
        if direction.calibrated:
            reach = 30.0 if direction.transform == "hue" else 0.15
            images = traverse(G, direction, seeds, t=np.linspace(-reach, reach, 9).tolist())
        else:
            images = traverse(G, direction, seeds, alpha=np.linspace(-3, 3, 9).tolist())
        viz.save_image(viz.traversal_grid(images), tmp / "traverse.png")
        viz.save_gif(images, tmp / "traverse.gif")
        if candidates:
            (tmp / "components").mkdir()
            rows = []
            for k, d in enumerate(candidates):
                d.save(tmp / "components" / f"{k:02d}.safetensors")
                rows.append(traverse(G, d, seeds[:1], alpha=np.linspace(-3, 3, 9).tolist())[:, 0])
            viz.save_image(viz.traversal_grid(torch.stack(rows, dim=1)), tmp / "components.png")

    _write_output_dir(out, write)
    if not _is_main():
        return
    what = f"{method} direction" + (f" for {info['attribute']}" if info.get("attribute") else f" (component {info.get('choice', 0)})")
    click.echo(f"wrote {out}/ ({what}, {info['generator_evals']} generator evaluations, {info['seconds']:.1f} s)")


@main.command("traverse")
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), required=True,
              help="A direction file (.safetensors, or .npy with --space).")
@click.option("--seeds", default="0-7", help="Seeds of the starting latents, e.g. 0-7,12.")
@click.option("--t", "t_range", default=None, help="LO,HI in transform units (through g).")
@click.option("--alpha", "alpha_range", default=None, help="LO,HI raw steps along u (instead of --t).")
@click.option("--steps", type=click.IntRange(2), default=9, help="Steps between LO and HI.")
@click.option("--mode", type=click.Choice(["relative", "absolute"]), default="relative",
              help="relative: move each image by t; absolute: set the factor to t.")
@click.option("--space", default=None, help="Latent space of a .npy direction.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--gif", type=click.Path(dir_okay=False), default=None, help="Also write an animated GIF.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="traverse.png", help="Output PNG.")
def traverse_cmd(model, direction_path, seeds, t_range, alpha_range, steps, mode, space, device, gif, output) -> None:
    """Images along a direction: one row per seed, one column per step.

    \b
    Example:
      latentnav traverse --direction runs/shift-x/direction.safetensors --seeds 0-7 --t -0.2,0.2 -o grid.png
      latentnav traverse --direction boundary.npy --space z --alpha -3,3 -o grid.png
    """
    import numpy as np

    from latentnav import viz
    from latentnav.directions import load_direction, traverse
    from latentnav.generators.registry import load_generator

    if t_range is not None and alpha_range is not None:
        raise click.UsageError("give --t or --alpha, not both")
    d = load_direction(direction_path, space=space)
    if t_range is None and alpha_range is None:
        if not d.calibrated:
            raise click.UsageError("this direction has no calibration: give --alpha LO,HI")
        t_range = "-0.2,0.2"
    G = load_generator(model, device=device)
    z = G.sample_latent(parse_seeds(seeds), d.space)
    if t_range is not None:
        lo, hi = parse_range(t_range, "--t")
        images = traverse(G, d, z, t=np.linspace(lo, hi, steps).tolist(), mode=mode)
    else:
        lo, hi = parse_range(alpha_range, "--alpha")
        images = traverse(G, d, z, alpha=np.linspace(lo, hi, steps).tolist())
    viz.save_image(viz.traversal_grid(images), output)
    if gif:
        viz.save_gif(images, gif)
    click.echo(f"wrote {output}" + (f" and {gif}" if gif else ""))


@main.command()
@click.option("--model", "-m", required=True, help="Registry name or a StyleGAN2 file (.pkl, .pt, .safetensors + config.json).")
@click.option("--force", is_flag=True, help="Replace an existing output directory.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output directory.")
def convert(model: str, force: bool, output: str) -> None:
    """Convert a StyleGAN2 checkpoint into model.safetensors + config.json (fast, safe reloading).

    Reads NVlabs pickles (without running their code), NVlabs-named state dicts with config.json and
    rosinality .pt files; the output loads with --model DIR.

    \b
    Example:
      latentnav convert --model stylegan2-ffhq-1024 -o models/ffhq-1024
      latentnav convert --model network-snapshot-001000.pkl -o models/mine
      latentnav discover --model models/mine --transform zoom --space w -o runs/zoom
    """
    from latentnav.generators import hub, stylegan2
    from latentnav.generators.registry import default_registry

    reg = default_registry()
    if model in reg:
        spec = reg[model]
        if spec.arch != stylegan2.ARCH:
            raise click.UsageError(f"latentnav convert reads StyleGAN2 models; {model} is a {spec.arch} model")
        (path,) = hub.fetch(spec)
    else:
        path = Path(model).expanduser()
        if not path.exists():
            from latentnav.errors import UnknownNameError

            known = [n for n, s in reg.items() if s.arch == stylegan2.ARCH]
            raise UnknownNameError("model", model, known, " (or give the path of a StyleGAN2 file)")
    out = Path(output)
    tmp = _prepare_output_dir(out, force)
    try:
        stylegan2.convert(path, tmp, name=model)
        _finish_output_dir(tmp, out)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    click.echo(f"wrote {out}/model.safetensors and {out}/config.json")


def parse_names(text: str | None) -> list[str] | None:
    """Parse ``"pos_x,pos_y"`` into a list (``None`` stays ``None``)."""
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


@main.command("evaluate")
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), default=None,
              help="A direction file (.safetensors, or .npy with --space).")
@click.option("--code", default=None, help="Instead of a file: one of the model's own codes, z<k> (latent axis k) or an InfoGAN code (cont0).")
@click.option("--target", default=None, help="Attribute it should change: a meter name or your scorer module:function (default: the one its transform changes).")
@click.option("--attributes", default=None, help="Attributes measured for leakage, e.g. pos_x,pos_y,scale or my_scorers:smile (default: all that apply).")
@click.option("--t", "t_range", default=None, help="LO,HI requested change in the target's units (default -0.15,0.15; hue -30,30).")
@click.option("--steps", type=click.IntRange(2), default=9, help="Steps between LO and HI.")
@click.option("-n", type=click.IntRange(2), default=50, help="Fresh latents.")
@click.option("--seed", type=int, default=50_000, help="First seed of the fresh latents.")
@click.option("--space", default=None, help="Latent space of a .npy direction.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace an existing output directory.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output directory.")
def evaluate_cmd(model, direction_path, code, target, attributes, t_range, steps, n, seed, space, device, force, output) -> None:
    """Measure how well a direction controls its attribute and what else it moves.

    Steerability (achieved vs requested change: R^2, slope, usable range, spread per step), the leakage
    row (change of every attribute per unit change of the target), MI control metrics and the control
    report (relative and absolute mode). A direction without a calibration in the target's units is first
    calibrated with the target's meter. Writes DIR/metrics.json, report.md, steerability.png, leakage.png.

    \b
    Example:
      latentnav evaluate --direction runs/shift-x/direction.safetensors -o runs/shift-x-eval
      latentnav evaluate --direction runs/sefa/direction.safetensors --target scale -o runs/sefa-eval
      latentnav evaluate --direction boundary.npy --space z --target pos_x --attributes pos_x,pos_y -o runs/npy-eval
      latentnav evaluate --model infogan-dsprites --code cont0 --target pos_x -o runs/code-eval
    """
    import numpy as np

    from latentnav.directions import code_direction, load_direction
    from latentnav.evaluate import evaluate_direction, write_evaluation
    from latentnav.generators.registry import load_generator

    if (direction_path is None) == (code is None):
        raise click.UsageError("give either --direction FILE or --code NAME")
    out = Path(output)
    device = _launch(device)
    _check_output_dir(out, force)
    G = load_generator(model, device=device)
    d = code_direction(G, code) if code is not None else load_direction(direction_path, space=space)
    t_values = None
    if t_range is not None:
        lo, hi = parse_range(t_range, "--t")
        if not hi > lo:
            raise click.BadParameter(f"expected LO < HI, got {t_range!r}", param_hint="--t")
        t_values = np.linspace(lo, hi, steps)
    ev = evaluate_direction(G, d, target=target, attributes=parse_names(attributes), t_values=t_values, n=n, seed=seed)
    _write_output_dir(out, lambda tmp: write_evaluation(ev, tmp))
    if not _is_main():
        return
    s = ev.metrics["steerability"]
    click.echo(f"wrote {out}/ ({ev.target}: R^2 {s['r2']:.3f}, slope {s['slope']:.3f}, spread {s['spread']:.4f}, "
               f"MI {ev.metrics['mi']['mi_target']:.2f})")  # fmt: skip


@main.command("compare")
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("--target", required=True, help="A transform (shift-x, shift-y, zoom, brightness, hue), the attribute it changes, or your scorer module:function.")
@click.option("--methods", default=None, help="Comma-separated subset of trajectory,ganspace,sefa,interfacegan (default: all).")
@click.option("--attributes", default=None, help="Attributes measured for leakage: meter names or module:function scorers (default: all that apply).")
@click.option("--t", "t_range", default=None, help="LO,HI requested change (default -0.15,0.15; hue -30,30).")
@click.option("--steps", type=click.IntRange(2), default=9, help="Steps between LO and HI.")
@click.option("-n", type=click.IntRange(2), default=50, help="Fresh latents for the evaluation.")
@click.option("--candidates", type=click.IntRange(1), default=10, help="GANSpace/SeFa components considered.")
@click.option("--samples", type=click.IntRange(2), default=10_000, help="GANSpace/InterFaceGAN latents sampled.")
@click.option("--trajectories", type=click.IntRange(1), default=64, help="Trajectory method: starting latents.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace an existing output directory.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output directory.")
def compare_cmd(model, target, methods, attributes, t_range, steps, n, candidates, samples, trajectories, device, force,
                output) -> None:  # fmt: skip
    """Run every method that applies, pick each one's best direction for the target, and compare them.

    GANSpace and SeFa offer several directions: the one that moves the target most consistently and
    exclusively is picked; every direction is calibrated in the target's units (the trajectory method
    by its own g, the others with the target's meter) and evaluated on the same fresh latents. Prints one
    table (control, spread, leakage, generator evaluations, wall time) and writes DIR/compare.md,
    compare.json, METHOD.safetensors, steerability.png and leakage.png.

    \b
    Example:
      latentnav compare --model bvae-dsprites-b4 --target shift-x -o runs/compare-x
      latentnav compare --model bvae-dsprites-b4 --target scale --methods sefa,ganspace -o runs/compare-scale
    """
    import numpy as np

    from latentnav.evaluate import compare, write_comparison
    from latentnav.generators.registry import load_generator
    from latentnav.measure import get_meter
    from latentnav.methods import METHODS
    from latentnav.trajectory import TrajectoryConfig

    chosen = parse_names(methods)
    if chosen is not None:
        unknown = [m for m in chosen if m not in METHODS]
        if unknown or not chosen:
            from latentnav.errors import UnknownNameError

            raise UnknownNameError("method", unknown[0] if unknown else "", METHODS)
    t_values = None
    if t_range is not None:
        lo, hi = parse_range(t_range, "--t")
        t_values = np.linspace(lo, hi, steps)
    out = Path(output)
    device = _launch(device)
    _check_output_dir(out, force)
    G = load_generator(model, device=device)
    meter = get_meter(target, G)
    say = (lambda line: click.echo(line, err=True)) if _is_main() else None
    runs = compare(G, meter.name, methods=chosen, attributes=parse_names(attributes), t_values=t_values, n_eval=n,
                   progress=say, n_candidates=candidates, ganspace_samples=samples, interfacegan_samples=samples,
                   trajectory_config=TrajectoryConfig(n_trajectories=trajectories))  # fmt: skip
    tables = []
    _write_output_dir(out, lambda tmp: tables.append(write_comparison(runs, meter.name, tmp)))
    if not _is_main():
        return
    table = tables[0]
    click.echo(table, nl=False)
    click.echo(f"wrote {out}/")


@main.command("evaluate-model")
@click.option("--model", "-m", default="bvae-dsprites",
              help="A testbed model that reads its codes back from images: the VAEs (encoder), the InfoGANs (Q).")
@click.option("--preset", type=click.Choice(["default", "fast"]), default="default",
              help="default: disentanglement_lib's sample counts; fast: about 10x fewer.")
@click.option("--seed", type=int, default=0, help="Seed of the metrics' samples.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Also write the figures as JSON here.")
def evaluate_model_cmd(model, preset, seed, device, output) -> None:
    """Disentanglement metrics of a model with known factors: BetaVAE, FactorVAE, MIG, SAP, DCI, total correlation.

    Codes are a VAE's encoder means (the two-code VAE: z1 and z2 together) or an InfoGAN's Q read-out of
    renders of the dSprites grid at the model's resolution (colour dSprites, with colour as a factor, for
    RGB models); the definitions and default sample counts are disentanglement_lib's (see the README's
    metrics section). Takes several minutes per model with the default preset on a CPU.

    \b
    Example:
      latentnav evaluate-model --model bvae-dsprites-b4
      latentnav evaluate-model --model bvae-dsprites-b1 --preset fast -o b1-metrics.json
      latentnav evaluate-model --model infogan-dsprites --preset fast
    """
    from latentnav.disentanglement import evaluate_model, metrics_markdown
    from latentnav.generators.registry import load_generator

    if output is not None and not output.endswith(".json"):
        raise click.BadParameter("the output must end in .json", param_hint="--output")
    G = load_generator(model, device=device)
    result = evaluate_model(G, preset=preset, seed=seed, progress=lambda name: click.echo(f"{name} ...", err=True))
    if output is not None:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(".tmp-" + path.name)
        tmp.write_text(json.dumps({"model": model, "preset": preset, "seed": seed, **result}, indent=2, default=float))
        tmp.replace(path)
    click.echo(metrics_markdown({model: result}), nl=False)


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
@click.option("--tc-weight", type=click.FloatRange(0), default=None,
              help="Weight of the total correlation (beta-TCVAE: loss = recon + beta (KL - TC) + tc_weight TC).")
@click.option("--tc-warmup", type=click.IntRange(0), default=0, help="Steps over which the TC weight rises from beta to --tc-weight.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=500, help="Steps between checkpoints.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .safetensors.")
def train_bvae(threads: int | None, output: str, **fields) -> None:
    """Train a beta-VAE on procedurally rendered dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train bvae --beta 4 --steps 30000 --seed 0 -o bvae.safetensors
      latentnav train bvae --correlate pos_x:pos_y:0.8 -o bvae-corr.safetensors
      latentnav train bvae --beta 1 --tc-weight 6 --tc-warmup 2000 --steps 10000 -o tcvae.safetensors   # beta-TCVAE
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



@train.command("cmivae")
@click.option("--specified", default="colour", help="The factor z2 carries (colour, shape, scale, orientation, pos_x, pos_y).")
@click.option("--z1-dim", type=click.IntRange(1), default=8, help="Coordinates of the complementary code z1.")
@click.option("--z2-dim", type=click.IntRange(1), default=3, help="Coordinates of the specified code z2.")
@click.option("--beta", type=click.FloatRange(0), default=1.0, help="KL weight of both codes.")
@click.option("--mi-weight", type=click.FloatRange(0), default=10.0, help="Weight of the conditional-MI lower bounds.")
@click.option("--mi-warmup", type=click.IntRange(0), default=1000, help="Steps over which the MI weight rises from 0.")
@click.option("--label-weight", type=click.FloatRange(0), default=200.0, help="Weight of the specified factor's likelihood from z2.")
@click.option("--steps", type=click.IntRange(1), default=3000, help="Optimizer steps.")
@click.option("--seed", type=int, default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Images per step.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=1e-3, help="Adam learning rate.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=500, help="Steps between checkpoints.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .safetensors.")
def train_cmivae(threads: int | None, output: str, **fields) -> None:
    """Train a two-code VAE with conditional-MI bounds on colour dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train cmivae --specified colour --steps 3000 -o cmivae-colour.safetensors
    """
    from latentnav.train.cmivae import CMIVAEConfig
    from latentnav.train.cmivae import train as run

    _run_training("train cmivae", CMIVAEConfig(**fields), run, output, threads)



@train.command("infogan")
@click.option("--codes", default="cat:3,cont:4", help="Control codes: cat:K (K values) and cont:N (N continuous), comma-separated.")
@click.option("--data", default="dsprites", help="Training data: dsprites (1 channel) or colour (colour dSprites, 3 channels).")
@click.option("--noise-dim", type=click.IntRange(1), default=8, help="Incompressible noise coordinates.")
@click.option("--info-weight", type=click.FloatRange(0), default=1.0, help="Weight of the codes' NLL under Q (InfoGAN's lambda).")
@click.option("--resolution", type=click.Choice(["32", "64"]), default="32", help="Image side in pixels.")
@click.option("--steps", type=click.IntRange(1), default=4000, help="Steps (one D and one G update each).")
@click.option("--seed", type=int, default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Real and fake images per step.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=2e-4, help="Adam learning rate.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=500, help="Steps between checkpoints.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .safetensors.")
def train_infogan(threads: int | None, output: str, resolution: str, **fields) -> None:
    """Train a style-based InfoGAN on procedural dSprites or colour dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train infogan --codes cat:3,cont:4 --steps 4000 -o infogan-dsprites.safetensors
      latentnav train infogan --data colour --codes cat:6,cont:4 -o infogan-colour.safetensors
    """
    from latentnav.train.infogan import InfoGANConfig
    from latentnav.train.infogan import train as run

    _run_training("train infogan", InfoGANConfig(resolution=int(resolution), **fields), run, output, threads)

def _run_training(command: str, config, run, output: str, threads: int | None) -> None:
    """Check the output name, write ``<stem>.config.json`` (atomically), train, say where the model is."""
    import torch

    if not output.endswith(".safetensors"):
        raise click.BadParameter("the output must end in .safetensors", param_hint="--output")
    if threads:
        torch.set_num_threads(threads)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg_path = out.with_name(out.stem + ".config.json")
    tmp = cfg_path.with_name(".tmp-" + cfg_path.name)
    tmp.write_text(json.dumps({"command": command, **dataclasses.asdict(config)}, indent=2))
    tmp.replace(cfg_path)
    path = run(config, out)
    click.echo(f"wrote {path}")


@main.command("correct")
@click.option("--model", "-m", default="bvae-dsprites-corr", help="Registry name or checkpoint path.")
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), required=True,
              help="The direction to correct (.safetensors, or .npy with --space).")
@click.option("--attribute", required=True,
              help="The attribute the direction should change: a meter name (e.g. pos_x) or your scorer module:function.")
@click.option("--against", multiple=True, required=True,
              help="An attribute it should leave alone: a meter name or module:function (repeatable).")
@click.option("--samples", type=click.IntRange(1), default=500, help="Low-density samples synthesized (at most).")
@click.option("--scored", type=click.IntRange(10), default=2000, help="Latents scored to estimate the joint density.")
@click.option("--offset", type=click.FloatRange(0, min_open=True), default=1.0,
              help="How far each is moved against the correlation, in standard deviations of the attribute.")
@click.option("--invert-steps", type=click.IntRange(1), default=150, help="Optimisation steps of the inversion.")
@click.option("--refit", type=click.Choice(["meters", "logistic"]), default="meters", show_default=True,
              help="Re-fit through the meters (moves A, holds B on all samples) or by a balanced logistic regression.")
@click.option("--fit-steps", type=click.IntRange(0), default=150, show_default=True,
              help="Optimisation steps of the Adam re-fit.")
@click.option("--fit-iterations", type=click.IntRange(0), default=20, show_default=True,
              help="Iteration limit of the SLSQP re-fit (the report says whether it converged or stopped there).")
@click.option("--fit-optimizer", type=click.Choice(["adam", "slsqp"]), default="slsqp", show_default=True,
              help="Meter re-fit: Adam on minibatches, or SLSQP on all latents at once (the leakage alone, subject to --keep).")
@click.option("--keep", "fit_keep", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of the base direction's change per unit step the meter re-fit must keep (it starts from "
                   "the projection when that keeps as much, else from the nearest mix of projection and base that "
                   "does (SLSQP) or from the base direction (Adam)).")
@click.option("--layers", default=None,
              help="StyleGAN2 W+ directions: synthesize by taking these layers (e.g. 0-3) from samples that carry the "
                   "wanted attribute (SC2GAN's layer mixing) instead of the linear move.")  # fmt: skip
@click.option("--eval-n", type=click.IntRange(2), default=50, show_default=True,
              help="Fresh latents (seeds from 50,000) the report measures base, projection and corrected on.")
@click.option("--space", default=None, help="Latent space of a .npy direction.")
@click.option("--seed", type=int, default=0, help="First seed of the scored latents.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Corrected direction (.safetensors).")
def correct_cmd(model, direction_path, attribute, against, samples, scored, offset, invert_steps, refit, fit_steps,
                fit_iterations, fit_optimizer, fit_keep, layers, eval_n, space, seed, device, force, output) -> None:  # fmt: skip
    """Remove what a direction drags along (SC2GAN-style): synthesize rare combinations, invert, re-fit.

    Writes OUT (the corrected direction, calibrated in the attribute's units), OUT's .json sidecar,
    OUT.projection.safetensors (InterFaceGAN's orthogonal projection, the baseline), OUT.report.json
    (before / projection / after: attribute change per unit step and leakage; samples made and kept;
    inversion error) and OUT.grids.png (rows: base, projection, corrected).

    Under torchrun each process synthesizes and inverts its block of the low-density samples (same result
    as one process); only rank 0 writes files.

    \b
    Example:
      latentnav discover --model bvae-dsprites-corr --transform shift-x -o runs/x
      latentnav correct --model bvae-dsprites-corr --direction runs/x/direction.safetensors \\
          --attribute pos_x --against pos_y -o runs/x-corrected.safetensors
      torchrun --nproc_per_node=8 -m latentnav correct --model bvae-dsprites-corr \\
          --direction runs/x/direction.safetensors --attribute pos_x --against pos_y -o runs/x-corrected.safetensors
      latentnav correct --model my-stylegan2 --direction runs/x-wplus/direction.safetensors \
          --attribute pos_x --against pos_y --layers 0-3 -o runs/x-wplus-corrected.safetensors
    """
    import shutil
    import tempfile

    import torch

    from latentnav import distributed, viz
    from latentnav.correction import CorrectConfig, correct
    from latentnav.directions import load_direction, traverse
    from latentnav.errors import OutputExistsError
    from latentnav.evaluate import calibrate_direction, in_units_of
    from latentnav.generators.registry import load_generator
    from latentnav.measure import get_meter

    out = Path(output)
    if out.suffix != ".safetensors":
        raise click.BadParameter(f"the output must end in .safetensors, got {out.name}", param_hint="-o")
    extras = [out.with_name(out.stem + suffix) for suffix in (".projection.safetensors", ".report.json", ".grids.png")]
    config = CorrectConfig(n_samples=scored, n_low=samples, offset=offset, invert_steps=invert_steps, refit=refit,
                           fit_steps=fit_steps, fit_iterations=fit_iterations, fit_keep=fit_keep, fit_optimizer=fit_optimizer, layers=parse_layers(layers), seed=seed)  # fmt: skip
    device = _launch(device)

    def check() -> None:
        if not force and any(p.exists() for p in [out, *extras]):
            raise OutputExistsError(f"{out} (or its report) exists; use --force to replace it")

    distributed.on_main(check)
    d = load_direction(direction_path, space=space)
    G = load_generator(model, device=device)
    meter = get_meter(attribute, G)
    held = [get_meter(name, G) for name in against]
    result = correct(G, d, meter, held, config, eval_n=eval_n, progress=True)
    corrected = calibrate_direction(G, result.direction, meter)
    projected = calibrate_direction(G, result.projection, meter)
    base = d if in_units_of(d, meter) else calibrate_direction(G, d, meter)
    if not _is_main():  # after the last collective: rank 0 draws the grids and writes
        return
    z = G.sample_latent(range(50_000, 50_006), corrected.space)
    t = torch.linspace(-0.15, 0.15, 7).tolist()
    grids = torch.cat([traverse(G, v, z, t=t, mode="relative") for v in (base, projected, corrected)], dim=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.stem}-", dir=out.parent))
    try:  # everything written under a temporary folder first, then moved into place
        corrected.save(tmp / out.name)
        projected.save(tmp / extras[0].name)
        (tmp / extras[1].name).write_text(json.dumps(result.report, indent=2, default=float))
        viz.save_image(viz.traversal_grid(grids), tmp / extras[2].name)
        for f in tmp.iterdir():
            f.replace(out.parent / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ev = result.report["eval"]
    click.echo(f"wrote {out} (leakage into {', '.join(against)}: base {ev['base']['leakage_max']:.3f}, projection "
               f"{ev['projection']['leakage_max']:.3f}, corrected {ev['corrected']['leakage_max']:.3f}; "
               f"{result.report['low_density_kept']} of {result.report['low_density_made']} low-density samples kept)")  # fmt: skip
    if ev["base"]["on_target"] > 0:  # the base moves the attribute (else there is no share to state)
        share = {k: ev[k]["on_target"] / ev["base"]["on_target"] for k in ("projection", "corrected")}
        asked = f" (--keep asks for at least {fit_keep:.0%} on the fitted latents)" if refit == "meters" else ""
        click.echo(f"{attribute} change per unit step, against the base direction's: projection {share['projection']:.0%}, "
                   f"corrected {share['corrected']:.0%}{asked}")  # fmt: skip
    if result.report.get("refit", {}).get("stopped") == "iteration limit":
        click.echo(f"the SLSQP re-fit stopped at its limit of {fit_iterations} iterations before converging "
                   "(past about 20 it fits the noise of the scored latents; --fit-iterations sets the limit)")  # fmt: skip


if __name__ == "__main__":
    main()
