"""Default schedule against the reference ("paper") schedule on a generator with a planted direction.

    python benchmarks/toy_schedules.py

The toy generator (tests/toys.py) draws a soft disc whose x position is 0.5 + 0.25 tanh(<z, u_x>), so
the right answer for shift-x is known exactly. Prints, for each schedule: cosine of the found direction
to u_x, generator evaluations, fit R^2 and seconds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from toys import BlobGenerator  # noqa: E402

from latentnav.methods.trajectory.config import TrajectoryConfig
from latentnav.methods.trajectory.discover import discover


def main() -> None:
    G = BlobGenerator()
    print("| schedule | cos(u, truth) | generator evals | fit R^2 | seconds |")
    print("|---|---|---|---|---|")
    for schedule in ("paper", "default"):
        t0 = time.perf_counter()
        d = discover(G, "shift-x", TrajectoryConfig(schedule=schedule, max_t=0.15), progress=False)
        cos = abs(torch.dot(d.u, G.u_x).item())
        print(f"| {schedule} | {cos:.4f} | {d.meta['generator_evals']} | {d.meta['fit_r2']:.3f} | {time.perf_counter() - t0:.1f} |")


if __name__ == "__main__":
    main()
