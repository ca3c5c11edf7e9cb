"""Notebook display: short HTML summaries of directions, runs and comparisons.

Pure functions from an object's figures (and a picture, when there is one) to an HTML string; the objects'
``_repr_html_`` methods call them, so a notebook shows a :class:`~latentnav.directions.Direction`, a
:class:`~latentnav.runs.Discovery`, a :class:`~latentnav.runs.CorrectionRun` or a
:class:`~latentnav.runs.Comparison` as a small table of its figures, its warning and its labelled grid. Pictures
come in as PIL images and go out embedded as base64 PNGs; nothing here generates, reads or writes files.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

#: the frame every summary sits in (one line of CSS, no stylesheet: notebooks and static renderers keep it)
FRAME_STYLE = "font-family: sans-serif; font-size: 13px; line-height: 1.35; margin: 4px 0"
WARNING_STYLE = "color: #8a4b00; background: #fff4e0; padding: 4px 8px; border-left: 3px solid #e08a00"


def png_base64(picture) -> str:
    """A PIL image as base64-encoded PNG bytes (ASCII)."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def image_html(picture, alt: str) -> str:
    """An ``<img>`` tag holding ``picture`` as an embedded PNG, at its own size (shrunk to the cell's width)."""
    return (f'<img alt="{html.escape(alt)}" width="{picture.width}" height="{picture.height}" '
            f'style="max-width: 100%; height: auto; image-rendering: pixelated" '
            f'src="data:image/png;base64,{png_base64(picture)}"/>')  # fmt: skip


def number(value: Any, spec: str = ".3f") -> str:
    """A figure as text: ``spec`` for finite floats, ``-`` for a missing or non-finite one, ints with separators."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return format(value, spec) if math.isfinite(value) else "-"


def table_html(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """A plain HTML table of ``rows`` (cells are escaped text)."""
    cell = "padding: 1px 10px 1px 0; text-align: left"
    head = "".join(f'<th style="{cell}">{html.escape(str(h))}</th>' for h in header) if header else ""
    body = "".join("<tr>" + "".join(f'<td style="{cell}">{html.escape(str(c))}</td>' for c in row) + "</tr>"
                   for row in rows)  # fmt: skip
    return f'<table style="border-collapse: collapse">{f"<tr>{head}</tr>" if head else ""}{body}</table>'


def warning_html(text: str | None) -> str:
    """A highlighted ``warning:`` line, or nothing when there is no warning."""
    return f'<div style="{WARNING_STYLE}">warning: {html.escape(text)}</div>' if text else ""


def frame(title: str, *parts: str) -> str:
    """The summary: a bold title, then the parts in order (empty ones left out)."""
    inner = "".join(f"<div>{p}</div>" for p in parts if p)
    return f'<div class="latentnav" style="{FRAME_STYLE}"><div><b>{html.escape(title)}</b></div>{inner}</div>'


def control_text(control: dict | None) -> str | None:
    """``R^2 0.946, slope 0.90 on 32 fresh latents`` from a control check's record, or ``None``."""
    if not control or control.get("r2") is None:
        return None
    return f"R^2 {number(control['r2'])}, slope {number(control.get('slope'), '.2f')} on {control.get('n_latents', '?')} fresh latents"


# ------------------------------------------------------------------------------------------------ directions
def direction_rows(direction) -> list[tuple[str, str]]:
    """What a direction moves, where, how it was found, its calibration and the figures its record carries."""
    meta = direction.meta
    unit = meta.get("unit") or ""
    where = f"{direction.model or '?'} {direction.space}[{direction.dim}]"
    rows = [("moves", direction.transform or "raw vector"), ("latent space", where), ("method", direction.method)]
    if direction.layers:
        rows.append(("layers", ", ".join(str(k) for k in direction.layers)))
    if direction.calibrated:
        lo, hi = float(direction.values[0]), float(direction.values[-1])
        rows.append(("calibration g covers", f"t {lo:+.3g} .. {hi:+.3g}" + (f" ({unit})" if unit else "")))
    else:
        rows.append(("calibration", "none: raw steps (alpha) along u"))
    if "fit_r2" in meta:
        rows.append(("fit R^2", number(meta["fit_r2"])))
    said = control_text(meta.get("control"))
    if said:
        rows.append(("control", said))
    if "leakage_before" in meta:
        rows.append(("leakage before / after", f"{number(meta['leakage_before'])} / {number(meta.get('leakage_after'))}"))
    return rows


def direction_html(direction) -> str:
    """A direction's summary (its record only: a direction holds no generator, so no picture)."""
    warning = (direction.meta.get("control") or {}).get("warning")
    return frame(f"Direction: {direction.transform or 'raw vector'} on {direction.model or '?'}",
                 table_html(direction_rows(direction)), warning_html(warning))  # fmt: skip


# ------------------------------------------------------------------------------------------------ runs
def discovery_rows(run) -> list[tuple[str, str]]:
    """A discovery's figures: the fit, the control on fresh latents, the cost."""
    m = run.metrics
    rows = [("direction", repr(run.direction))]
    for key, label in (("fit_r2", "fit R^2"), ("calibration_r2", "calibration R^2")):
        if key in m:
            rows.append((label, number(m[key])))
    control = run.control or {}
    if control.get("r2") is not None:
        latents = f"{control.get('n_latents', '?')} fresh latents (seeds from {control.get('first_seed', '?')})"
        rows += [("control R^2", number(control["r2"])), ("control slope", number(control.get("slope"), ".2f")),
                 ("control measured on", latents)]  # fmt: skip
    if "generator_evals" in m:
        rows.append(("generator evaluations", number(int(m["generator_evals"]))))
    if "wall_seconds" in m:
        rows.append(("seconds", number(m["wall_seconds"], ".1f")))
    return rows


def discovery_html(run, picture=None) -> str:
    """A discovery's summary: its figures, its warning, and its traversal grid (rows: latents, columns: t)."""
    what = run.direction.transform or run.config.get("method", "")
    grid = image_html(picture, f"traversal along {what}") if picture is not None else ""
    return frame(f"Discovery: {what} on {run.config.get('model', run.direction.model)}",
                 table_html(discovery_rows(run)), warning_html(run.warning), grid)  # fmt: skip


def correction_rows(report: dict) -> list[list[str]]:
    """Base, projection and corrected: leakage into the held attributes and the target's change per unit step."""
    ev = report["eval"]
    base = ev["base"].get("on_target") or 0.0
    rows = []
    for name in ("base", "projection", "corrected"):
        e = ev[name]
        share = f"{e['on_target'] / base:.0%}" if base > 0 else "-"
        rows.append([name, number(e["leakage_max"]), number(e["on_target"], ".4f"), share])
    return rows


def correction_html(run, picture=None) -> str:
    """A correction's summary: before / after on fresh latents, the samples kept, and the three traversals."""
    report = run.result.report
    against = ", ".join(run.against)
    header = ["direction", f"leakage into {against}", f"{run.attribute} change per unit step", "of the base's"]
    kept = (f"{report['low_density_kept']} of {report['low_density_made']} low-density samples kept; measured on "
            f"{report['eval']['n']} fresh latents (seeds from {report['eval']['seed']})")  # fmt: skip
    grid = image_html(picture, "traversals: base, projection, corrected") if picture is not None else ""
    return frame(f"Correction: {run.attribute} held against {against} ({run.base.model})",
                 table_html(correction_rows(report), header), html.escape(kept), grid)  # fmt: skip


COMPARISON_HEADER = ["method", "direction", "R^2", "slope", "spread", "leakage", "MI target", "generator evals", "seconds"]


def comparison_rows(runs: Sequence) -> list[list[str]]:
    """One row per method (:class:`~latentnav.evaluate.MethodRun`): its control of the target on the shared latents."""
    rows = []
    for r in runs:
        if r.evaluation is None:
            rows.append([r.method, f"not applicable: {r.note}", *["-"] * 7])
            continue
        m = r.evaluation.metrics
        s = m["steerability"]
        rows.append([r.method, r.choice, number(s["r2"]), number(s["slope"]), number(s["spread"], ".4f"),
                     number(m.get("control", {}).get("leakage")), number(m["mi"]["mi_target"], ".2f"),
                     number(r.find_evals + r.pick_evals), number(r.seconds, ".1f")])  # fmt: skip
    return rows


def comparison_html(runs: Sequence, target: str, picture=None) -> str:
    """Every method's direction on one scale: the figures, each weak one's warning, one latent moved by each."""
    warnings = "".join(warning_html(f"{r.method}: {r.evaluation.warning}") for r in runs
                       if r.evaluation is not None and r.evaluation.warning)  # fmt: skip
    first = next((r.evaluation.metrics for r in runs if r.evaluation is not None), {})
    scale = (f"measured on the same {first['n']} fresh latents (seeds from {first['seed']}), t in {first['unit']}"
             if first else "")  # fmt: skip
    grid = image_html(picture, f"one latent moved along each method's {target} direction") if picture is not None else ""
    return frame(f"Comparison: control of {target}", table_html(comparison_rows(runs), COMPARISON_HEADER),
                 html.escape(scale), warnings, grid)  # fmt: skip
