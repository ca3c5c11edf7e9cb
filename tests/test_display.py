"""Notebook display: the HTML summaries carry the figures and a labelled grid as a base64 PNG of the right size."""

import base64
import io
import re
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image
from toys import BlobGenerator

import latentnav as ln
from latentnav import display
from latentnav.runs import Comparison, CorrectionRun, Discovery
from latentnav.viz import LABEL_HEIGHT, LABEL_WIDTH

CONTROL = {"r2": 0.946019, "slope": 0.899419, "n_latents": 32, "first_seed": 70000, "warning": None}


def pngs(page: str) -> list[Image.Image]:
    """Every embedded PNG of an HTML page, decoded (a broken one raises)."""
    found = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    return [Image.open(io.BytesIO(base64.b64decode(data, validate=True)), formats=["PNG"]) for data in found]


def grid_size(columns: int, rows: int, resolution: int, upscale: int = 2) -> tuple[int, int]:
    """The size of a labelled traversal grid (viz.traversal_grid: 2 px padding, upscaled, caption strips)."""
    cell = resolution + 2
    return (columns * cell + 2) * upscale + LABEL_WIDTH, (rows * cell + 2) * upscale + LABEL_HEIGHT


def planted_direction(G: BlobGenerator, **meta) -> ln.Direction:
    """The toy's planted x axis, calibrated exactly in fractions of the width."""
    knots = torch.linspace(-2, 2, 21)
    values = 0.25 * torch.tanh(knots)
    return ln.Direction(G.u_x.clone(), knots, values, model=G.name, transform="shift-x",
                        meta={"unit": "fraction of width", **meta})  # fmt: skip


def test_a_direction_shows_its_figures_and_its_warning_without_a_picture():
    G = BlobGenerator()
    weak = {**CONTROL, "r2": 0.257, "slope": 0.24, "warning": "weak control: zoom <moved> by only 0.24"}
    page = planted_direction(G, fit_r2=0.9931, control=weak)._repr_html_()
    for figure in ("shift-x", "toy-blob z[6]", "trajectory", "t -0.241 .. +0.241 (fraction of width)", "0.993",
                   "R^2 0.257, slope 0.24 on 32 fresh latents"):  # fmt: skip
        assert figure in page
    assert "warning: weak control: zoom &lt;moved&gt; by only 0.24" in page  # escaped
    assert pngs(page) == []
    raw = ln.Direction(G.u_x.clone(), torch.tensor([-1.0, 1.0]), torch.tensor([-1.0, 1.0]), calibrated=False)
    assert "none: raw steps (alpha) along u" in raw._repr_html_() and "warning" not in raw._repr_html_()


def test_a_discovery_shows_fit_control_cost_and_its_labelled_grid():
    G = BlobGenerator()
    metrics = {"fit_r2": 0.9931, "calibration_r2": 0.9876, "control": CONTROL, "generator_evals": 5569, "wall_seconds": 8.1}
    run = Discovery(G, planted_direction(G), {"model": G.name, "method": "trajectory"}, metrics, max_t=0.2)
    page = run._repr_html_()
    for figure in ("Discovery: shift-x on toy-blob", "0.993", "0.988", "0.946", "0.90", "32 fresh latents (seeds from 70000)",
                   "5,569", "8.1"):  # fmt: skip
        assert figure in page
    assert "warning" not in page
    (picture,) = pngs(page)
    assert picture.size == grid_size(columns=9, rows=4, resolution=32)
    picture.load()  # the whole image decodes
    # the grid is the traversal: the blob moves right along the row (x centre of the first and last columns)
    cells = torch.from_numpy(np.asarray(picture.convert("L"), dtype="float32"))
    row = cells[LABEL_HEIGHT + 4 : LABEL_HEIGHT + 4 + 64, LABEL_WIDTH:]
    cell = 34 * 2
    xs = [float((row[:, k * cell : (k + 1) * cell].sum(0) * torch.arange(cell)).sum() / row[:, k * cell : (k + 1) * cell].sum())
          for k in (0, 8)]  # fmt: skip
    assert xs[1] > xs[0] + 5


def test_a_weak_discovery_shows_its_warning():
    G = BlobGenerator()
    weak = {**CONTROL, "r2": 0.257, "slope": 0.24, "warning": "weak control: changed zoom by only 0.24 of what was asked"}
    run = Discovery(G, planted_direction(G), {"model": G.name}, {"control": weak, "generator_evals": 10}, max_t=0.2)
    page = run._repr_html_()
    assert "warning: weak control: changed zoom by only 0.24 of what was asked" in page and "0.257" in page


def test_a_correction_shows_before_and_after_and_three_rows_of_grids_per_latent():
    G = BlobGenerator()
    d = planted_direction(G)
    report = {"eval": {"n": 50, "seed": 50000, "base": {"leakage_max": 0.379, "on_target": 0.114},
                       "projection": {"leakage_max": 0.141, "on_target": 0.087},
                       "corrected": {"leakage_max": 0.016, "on_target": 0.075}},
              "low_density_made": 500, "low_density_kept": 408, "grid_t": [-0.15, -0.1, -0.05, 3.73e-09, 0.05, 0.1, 0.15]}  # fmt: skip
    grids = torch.rand(7, 18, 1, 32, 32) * 2 - 1
    run = CorrectionRun(SimpleNamespace(report=report), d, d, d, grids, "pos_x", ["pos_y"])
    page = run._repr_html_()
    for figure in ("leakage into pos_y", "0.379", "0.141", "0.016", "0.1140", "0.0750", "66%", "76%",
                   "408 of 500 low-density samples kept", "50 fresh latents (seeds from 50000)"):  # fmt: skip
        assert figure in page
    (picture,) = pngs(page)
    assert picture.size == grid_size(columns=7, rows=6, resolution=32)  # base, projection, corrected x 2 latents
    assert run._t_labels()[2:5] == ["t -0.05", "t +0", "t +0.05"]  # linspace's float noise is not a caption


def test_a_comparison_is_the_list_of_runs_and_shows_every_method_on_one_scale():
    G = BlobGenerator()
    runs = ln.compare(G, "shift-x", methods=["sefa", "interfacegan"], attributes=["pos_x", "pos_y"], n_eval=8,
                      interfacegan_samples=600, interfacegan_ratio=0.1)  # fmt: skip
    assert isinstance(runs, Comparison) and isinstance(runs, list) and len(runs) == 2 and runs.target == "pos_x"
    page = runs._repr_html_()
    r2 = runs[1].evaluation.metrics["steerability"]["r2"]
    assert r2 > 0.8 and f"{r2:.3f}" in page and "not applicable: SeFa needs the weight" in page
    assert "measured on the same 8 fresh latents (seeds from 50000)" in page
    (picture,) = pngs(page)
    assert picture.size == grid_size(columns=7, rows=1, resolution=32)  # one row per method that applied


def test_numbers_and_tables_are_plain_text():
    assert [display.number(v) for v in (None, float("nan"), 1234, 0.12345, True)] == ["-", "-", "1,234", "0.123", "True"]
    table = display.table_html([["<b>", 1]], header=["a&b", "c"])
    assert "&lt;b&gt;" in table and "a&amp;b" in table and "<b>" not in table
