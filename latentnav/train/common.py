"""What every latentnav trainer shares: resumable checkpoints, the settings check on resume, the NaN stop.

A run writing ``out.safetensors`` keeps its training state in ``out.safetensors.ckpt.pt`` (weights,
optimizer states, step, config), written under a temporary name and renamed, and appends its logged
figures to ``out.safetensors.log.jsonl``. A loss that is not finite stops the run before the optimizer
step, so the weights on disk stay the last good ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from latentnav._version import __version__
from latentnav.errors import BadInputError, CheckpointError, TrainingDivergedError, TrainingInterrupted


def checkpoint_path(output: Path) -> Path:
    """``<output>.ckpt.pt``: the resumable training state of the run writing ``output``."""
    return output.with_name(output.name + ".ckpt.pt")


def log_path(output: Path) -> Path:
    """``<output>.log.jsonl``: one JSON line of averaged figures per logging interval."""
    return output.with_name(output.name + ".log.jsonl")


def load_checkpoint(output: Path, config: Any, resumable: tuple[str, ...]) -> dict | None:
    """The saved state of an interrupted run, or ``None``; refuses one written with other settings.

    Args:
        output: the run's output path.
        config: the run's (frozen dataclass) config.
        resumable: fields that may differ between the interrupted run and this one (e.g. ``steps``).
    """
    path = checkpoint_path(output)
    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
        old = json.loads(state["config"])
    except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged file; none runs code
        raise CheckpointError(f"{path} is not a training checkpoint latentnav can read ({type(err).__name__}); "
                              "move it away to start afresh, or pass --force") from None  # fmt: skip
    new = dataclasses.asdict(config)
    diff = sorted(k for k in new if k not in resumable and old.get(k) != new[k])
    if diff:
        shown = ", ".join(f"{k}={old.get(k)!r} there, {new[k]!r} now" for k in diff[:3])
        raise BadInputError(f"{path} belongs to a run with other settings ({shown}); resume it with the same settings, "
                            "or pass --force to start afresh (it replaces that run's files)")  # fmt: skip
    return state


def save_checkpoint(output: Path, config: Any, step: int, states: Mapping[str, Any]) -> None:
    """Write the training state (``states``: name -> state dict) at ``step``, atomically."""
    path = checkpoint_path(output)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({**states, "step": step, "config": json.dumps(dataclasses.asdict(config))}, tmp)
    tmp.replace(path)


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[SimpleNamespace]:
    """Ctrl-C during training only sets ``flag.requested``: the loop finishes its step, writes a checkpoint and
    stops (:func:`interrupted`). A second Ctrl-C stops at once."""
    flag = SimpleNamespace(requested=False)
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield flag
        return

    def handler(signum, frame) -> None:
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted(output: Path, step: int, total: int) -> TrainingInterrupted:
    """The error a trainer raises after writing its checkpoint at (1-based) ``step`` on Ctrl-C."""
    return TrainingInterrupted(f"interrupted at step {step} of {total}: the model so far is in {output} and the "
                               f"training state in {checkpoint_path(output)}; run the same command again to "
                               "resume")  # fmt: skip


def last_checkpoint_step(output: Path) -> int | None:
    """The step of the checkpoint on disk, or ``None`` when there is none."""
    path = checkpoint_path(output)
    return int(torch.load(path, weights_only=True)["step"]) if path.exists() else None


def stop_if_not_finite(output: Path, step: int, terms: Mapping[str, float]) -> None:
    """Raise :class:`TrainingDivergedError` when a loss term is NaN or infinite at (1-based) ``step``.

    Called before the optimizer step, so nothing non-finite reaches the weights or the files.
    """
    bad = {k: v for k, v in terms.items() if not math.isfinite(v)}
    if not bad:
        return
    last = last_checkpoint_step(output)
    kept = (f"the last good checkpoint {checkpoint_path(output).name} (step {last}) is kept" if last is not None
            else "no checkpoint had been written yet")  # fmt: skip
    what = ", ".join(f"{k}={v}" for k, v in bad.items())
    raise TrainingDivergedError(f"loss became non-finite at step {step} ({what}); training stopped, {kept}")


def parameters_finite(module: torch.nn.Module) -> bool:
    """Whether every parameter of ``module`` is finite (checked before a snapshot is written)."""
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


def resume(output: Path, config: Any, resumable: tuple[str, ...], parts: Mapping[str, Any]) -> int:
    """Load an interrupted run's state into ``parts`` (name -> module or optimizer) and return its step (0: none).

    Refuses a checkpoint written with other settings (:func:`load_checkpoint`).
    """
    state = load_checkpoint(output, config, resumable)
    if state is None:
        return 0
    for name, part in parts.items():
        part.load_state_dict(state[name])
    return int(state["step"])


def snapshot(output: Path, config: Any, step: int, parts: Mapping[str, Any], write_model: Callable[[dict], None],
             trained_on: str, **meta: Any) -> None:  # fmt: skip
    """Write the model file and the training checkpoint after (1-based) ``step``, every trainer's way.

    ``parts``: name -> module or optimizer, as :func:`resume` reads them back. Stops
    (:func:`stop_if_not_finite`) if a weight of a module is not finite, so a bad state never reaches disk;
    ``write_model(metadata)`` writes the model file with the config, the steps done, the version, ``trained_on``
    and ``meta``; then the checkpoint holds every part's state.
    """
    nets = [part for part in parts.values() if isinstance(part, torch.nn.Module)]
    if not all(parameters_finite(net) for net in nets):
        stop_if_not_finite(output, step, {"weights": float("nan")})
    write_model({"config": dataclasses.asdict(config), "steps_done": str(step), "latentnav_version": __version__,
                 "trained_on": trained_on, **meta})  # fmt: skip
    save_checkpoint(output, config, step, {name: part.state_dict() for name, part in parts.items()})


def output_files(output: Path) -> list[Path]:
    """Everything a training run writes for ``output``: the model, its config, the checkpoint and the log."""
    return [output, output.with_name(output.stem + ".config.json"), checkpoint_path(output), log_path(output)]


def check_output(output: Path, config: Any, resumable: tuple[str, ...], force: bool) -> bool:
    """Check a training output before anything is written; ``True`` when it resumes an interrupted run.

    The name must end in ``.safetensors``, its folder be writable and no other run be writing it; a training
    checkpoint there is resumed only when it was written with the same settings and has done no more steps than
    asked (a refused resume changes no file). Without a checkpoint, what a run that stopped before its first
    checkpoint left (its config and log) is replaced; an existing model is replaced only with ``force``, which
    starts afresh.

    Raises:
        OutputError, OutputExistsError, OutputBusyError: the output cannot or may not be written.
        BadInputError: a checkpoint of another run, or of a run further along, is there.
    """
    from latentnav import io
    from latentnav.errors import OutputError, OutputExistsError

    io.check_suffix(output, (".safetensors",), "a model")
    io.check_writable_parent(output)
    io.check_not_package(output)
    ours = output_files(output)
    for path in ours:
        io.check_not_link(path)
        if path.is_dir():
            raise OutputError(f"{path} is a directory; choose another -o")
    io.claim(output)  # another live run into the same output: refused now, before anything else is said
    if force:
        return False
    state = load_checkpoint(output, config, resumable)
    if state is not None:
        if int(state["step"]) > config.steps:
            raise BadInputError(f"{checkpoint_path(output)} has done {int(state['step'])} steps, more than --steps "
                                f"{config.steps}; ask for at least {int(state['step'])} to resume, or pass --force to "
                                "start afresh")  # fmt: skip
        return True
    if output.exists():
        raise OutputExistsError(f"{output} exists (and no training checkpoint to resume); choose another -o or pass "
                                "--force to start afresh")  # fmt: skip
    config_file = ours[1]
    if config_file.exists() and not _our_config(config_file):
        raise OutputExistsError(f"{config_file} exists and is not a latentnav training config; choose another -o or "
                                "pass --force")  # fmt: skip
    return False


def _our_config(path: Path) -> bool:
    """Whether ``path`` is the config a latentnav training run wrote (a run that stopped before its first checkpoint)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and str(data.get("command", "")).startswith("train ")


def run_training(command: str, config: Any, train: Callable, output: Path, *, force: bool) -> Path:
    """Train into ``output`` (checked with :func:`check_output` first) while holding it against a second run.

    ``force`` starts afresh: the old run's checkpoint and log go first. The config is written as
    ``<stem>.config.json`` before training starts.
    """
    from latentnav import io

    with io.exclusive(output):
        if force or not checkpoint_path(output).exists():  # a fresh start: no log of an earlier run goes on
            for path in output_files(output)[2:]:
                path.unlink(missing_ok=True)
        io.write_text(output_files(output)[1], json.dumps({"command": command, **dataclasses.asdict(config)}, indent=2))
        return train(config, output)


def training_loop(output: Path, config: Any, start: int, step: Callable[[int], Mapping[str, float]],
                  save: Callable[[int], None], *, desc: str, progress: bool = True,
                  postfix: Callable[[dict], dict] | None = None, extra: Callable[[], dict] | None = None) -> Path:  # fmt: skip
    """The one loop every trainer runs, from step ``start`` to ``config.steps``.

    ``step(s)`` does step ``s`` (0-based: forward, the NaN stop, backward, the optimizer) and returns its figures;
    every 100 steps their means (plus ``extra()``, e.g. the code information) go to ``<output>.log.jsonl`` and the
    progress bar (``postfix(means)`` formats it); ``save(s)`` writes the model and the checkpoint after (1-based)
    step ``s``, every ``config.checkpoint_every`` steps and at the end. Ctrl-C finishes the current step, saves and
    raises :func:`interrupted`. A run that was already done saves once more (the same weights).

    Returns:
        ``output``.
    """
    from tqdm.auto import tqdm

    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, disable=not progress, desc=desc)
    t0, window = time.time(), []
    with stop_on_interrupt() as stop:
        for s in bar:
            window.append(dict(step(s)))
            if (s + 1) % 100 == 0:
                means = {k: sum(w[k] for w in window) / len(window) for k in window[0]}
                means.update(extra() if extra is not None else {})
                if postfix is not None:
                    bar.set_postfix(postfix(means))
                with log_path(output).open("a") as f:
                    f.write(json.dumps({"step": s + 1, **means, "time": time.time() - t0}) + "\n")
                window = []
            if (s + 1) % config.checkpoint_every == 0 or s + 1 == config.steps:
                save(s + 1)
            if stop.requested:
                save(s + 1)
                raise interrupted(output, s + 1, config.steps)
    if start >= config.steps:
        save(config.steps)
    return output
