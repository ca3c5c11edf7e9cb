"""The example notebooks execute top to bottom, in a kernel running this test environment's Python.

Each notebook ends with a cell that asserts its claim (a control R^2, a warning, less leakage after correcting),
so a notebook whose claim turns false fails here; the test also reads the figures back from the outputs. The
notebooks run in a temporary working directory: whatever they save lands there, never in the repository.
"""

import json
import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def kernel_threads() -> dict[str, str]:
    """The kernel computes on the cores other processes leave free, as the ``latentnav`` program does: on a shared
    2-core machine two torch threads spin-wait on each other (the quickstart's discovery took 136 s with two
    threads and 16 s with one, under a load of 7)."""
    from latentnav.cli.app import free_cores

    found = free_cores()
    threads = str(found[0] if found else 1)
    return {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def _has_digiface() -> bool:
    try:
        metadata.distribution("gan-face-generate")
        return True
    except metadata.PackageNotFoundError:
        return False


def kernel_manager(folder: Path):
    """A kernel manager whose only ``python3`` kernel runs ``sys.executable`` (this environment's Python), from a
    kernel spec written into ``folder``: a ``python3`` kernel of the user's or the system's is never picked up."""
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = Path(install(prefix=str(folder), kernel_name="python3"))
    assert Path(sys.executable).samefile(json.loads((spec / "kernel.json").read_text())["argv"][0])
    return KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))


def execute(name: str, tmp_path: Path):
    """Run ``examples/<name>.ipynb`` in ``tmp_path/work``; the executed notebook, and the text it printed."""
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code"), \
        f"{name}.ipynb is stored with outputs"  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    client = nbclient.NotebookClient(nb, km=kernel_manager(tmp_path / "kernel"), timeout=600,
                                     resources={"metadata": {"path": str(work)}})  # fmt: skip
    client.execute(env={**os.environ, **kernel_threads()})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    return nb, outputs, text, work


def html_outputs(outputs) -> list[str]:
    return [o.data["text/html"] for o in outputs if o.output_type in ("display_data", "execute_result") and "text/html" in o.data]


def test_quickstart_notebook_discovers_moves_saves_and_reloads(tmp_path):
    _, outputs, text, work = execute("quickstart", tmp_path)
    r2, moved = re.search(r"control R\^2 ([0-9.]+), slope [0-9.]+; t = \+0.1 moved the sprite by ([0-9.]+)", text).groups()
    assert float(r2) > 0.8 and 0.05 < float(moved) < 0.15
    assert "reloaded direction moves the same way: True" in text
    pages = html_outputs(outputs)
    assert any(p.startswith('<div class="latentnav"') and "Discovery: shift-x on bvae-dsprites" in p and "base64," in p for p in pages)
    assert any("Direction: shift-x on bvae-dsprites" in p for p in pages)  # the reloaded direction
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the labelled walk, inline
    assert (work / "runs" / "shift-x" / "direction.safetensors").is_file()  # saved into the working directory


@pytest.mark.skipif(not _has_digiface(), reason="pip install --no-deps gan-face-generate==1.1.1 for the real weights")
def test_real_gan_notebook_measures_brightness_and_shows_the_weak_zoom_warning(tmp_path):
    _, outputs, text, _ = execute("real_gan", tmp_path)
    found = re.search(r"brightness: control R\^2 ([0-9.]+), t = \+0.2 brightened by ([0-9.]+); zoom: control R\^2 ([0-9.-]+) "
                      r"\(weak\)", text)  # fmt: skip
    bright, brightened, zoom = map(float, found.groups())
    assert bright > 0.8 and 0.1 < brightened < 0.3 and zoom < 0.8
    assert "UserWarning: weak control" in text
    pages = html_outputs(outputs)
    assert any("Discovery: zoom on dcgan-digiface" in p and "warning: weak control" in p for p in pages)
    assert any("Discovery: brightness on dcgan-digiface" in p and "warning" not in p for p in pages)


def test_compare_and_correct_notebook_puts_the_methods_on_one_scale_and_corrects_x(tmp_path):
    _, outputs, text, _ = execute("compare_and_correct", tmp_path)
    for method in ("trajectory", "ganspace", "sefa", "interfacegan"):
        assert float(re.search(rf"{method}: pos_x: R\^2 ([0-9.]+)", text).group(1)) > 0.8
    before, after = map(float, re.search(r"leakage into y: base ([0-9.]+) -> corrected ([0-9.]+)", text).groups())
    assert after < 0.5 * before
    pages = html_outputs(outputs)
    assert any("Comparison: control of pos_x" in p and "base64," in p for p in pages)
    assert any("Correction: pos_x held against pos_y" in p and "base64," in p for p in pages)
