"""Run under torchrun by tests/test_distributed.py: GANSpace (both ways) and InterFaceGAN through the Python API.

    torchrun --standalone --nproc_per_node=2 tests/dist_worker.py OUT.npz

Rank 0 writes OUT.npz with what the test compares against a single-process run (:func:`results`).

    torchrun --standalone --nproc_per_node=2 tests/dist_worker.py --break-inversion-on-rank-1 correct ARGS...

runs ``latentnav correct ARGS...`` with an inversion that fails on rank 1 only (:func:`break_inversion`).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch


def results(G) -> dict[str, np.ndarray]:
    """The figures compared between one process and several (same code, whoever runs it)."""
    from latentnav import measure
    from latentnav.evaluate import calibrate_direction
    from latentnav.methods.ganspace import ganspace
    from latentnav.methods.interfacegan import interfacegan

    out: dict[str, np.ndarray] = {}
    for name, incremental in (("moments", False), ("incremental", True)):
        res = ganspace(G, n_samples=300, n_components=4, incremental=incremental, chunk=100)
        out[f"ganspace_{name}_u"] = torch.stack([d.u for d in res.directions]).numpy()
        out[f"ganspace_{name}_ratio"] = np.asarray(res.explained_variance_ratio)
        out[f"ganspace_{name}_evals"] = np.array(res.generator_evals)
    d = interfacegan(G, measure.centroid_x, n_samples=300, ratio=0.1, name="pos_x", allow_nan=True, batch_size=64)
    out["interfacegan_u"] = d.u.numpy()
    out["interfacegan_val_accuracy"] = np.array(d.meta["val_accuracy"])
    cal = calibrate_direction(G, d, "pos_x", n=16, grid=9)
    out["calibrated_values"] = cal.values.numpy()
    return out


def break_inversion(cli_args: list[str]) -> None:
    """The ``latentnav`` command line, with an inversion that runs out of memory on rank 1 (a planted failure)."""
    from latentnav.cli import main as cli
    from latentnav.correction import steps as correction

    if os.environ["RANK"] == "1":

        def out_of_memory(*args, **kwargs):
            raise RuntimeError("out of memory while inverting (planted)")

        correction.invert = out_of_memory
    cli(cli_args, prog_name="latentnav")


def main() -> None:
    import latentnav as ln
    from latentnav import distributed

    if sys.argv[1] == "--break-inversion-on-rank-1":
        break_inversion(sys.argv[2:])
        return
    device = distributed.setup("cpu")
    G = ln.load_generator("bvae-dsprites", device=device)
    out = results(G)
    if distributed.world().is_main:
        np.savez(sys.argv[1], world_size=distributed.world().size, **out)
    distributed.teardown()


if __name__ == "__main__":
    main()
