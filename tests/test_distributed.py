"""Data-parallel runs under the real launcher (torchrun, 2 processes, gloo on the CPU) against one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dist_worker
import numpy as np
import pytest
import torch
from click.testing import CliRunner

import latentnav as ln
from latentnav import distributed
from latentnav.cli import main
from latentnav.directions import load_direction
from latentnav.errors import LatentnavError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    """The single-process runs here use one thread, as each torchrun worker does (OMP_NUM_THREADS=1): with
    another count the float sums differ in their last bits, and a count compared exactly (generator evaluations,
    fits kept) could turn on them. Otherwise the count would be whatever an earlier test left behind."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


QUICK = ["--trajectories", "8", "--steps", "2", "--max-iters", "8", "--device", "cpu"]


def torchrun(*args, cwd: Path, nproc: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=N ARGS`` with this checkout of latentnav on the path."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


# ------------------------------------------------------------------------------------------ one process
def test_alone_every_helper_is_the_single_process_identity():
    w = distributed.world()
    assert (w.rank, w.size, w.is_main, w.distributed) == (0, 1, True, False)
    assert list(distributed.shard(range(10))) == list(range(10))
    assert distributed.exchange(lambda: 5) == [5] and distributed.on_main(lambda: "x") == "x"
    t = torch.arange(3.0)
    assert distributed.all_reduce_sum([t])[0] is t and distributed.broadcast(7) == 7
    with pytest.raises(KeyError):  # alone, the original error propagates unchanged
        distributed.exchange(lambda: {}["missing"])


def test_shards_cover_the_seeds_once_in_order():
    seeds = list(range(100, 111))
    blocks = [list(distributed.shard(seeds, distributed.World(r, 4))) for r in range(4)]
    assert [len(b) for b in blocks] == [2, 3, 3, 3] and [s for b in blocks for s in b] == seeds
    assert [list(distributed.shard([1], distributed.World(r, 3))) for r in range(3)] == [[], [], [1]]


def test_torchrun_environment_is_read_and_checked():
    w = distributed.from_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"})
    assert (w.rank, w.size, w.local_rank, w.is_main) == (3, 8, 1, False)
    assert distributed.from_env({}) == distributed.World()
    with pytest.raises(ValueError, match="inconsistent torchrun environment: RANK=8, WORLD_SIZE=8"):
        distributed.from_env({"RANK": "8", "WORLD_SIZE": "8"})
    with pytest.raises(ValueError, match="malformed torchrun environment"):
        distributed.from_env({"RANK": "x", "WORLD_SIZE": "2"})


def test_a_failing_job_is_named():
    def job(name):
        if name == "b":
            raise ValueError("no such thing")
        return name.upper()

    assert distributed.map_jobs(["a", "c"], job) == ["A", "C"]
    with pytest.raises(LatentnavError, match="^job b: no such thing$"):
        distributed.map_jobs(["a", "b"], job)


def test_a_trajectory_depends_only_on_its_seed_not_on_its_batch():
    from toys import BlobGenerator

    from latentnav.methods.trajectory.config import TrajectoryConfig
    from latentnav.methods.trajectory.optimizer import run_trajectories

    G = BlobGenerator()
    cfg = TrajectoryConfig(n_trajectories=6, n_steps=3, max_t=0.15)
    whole = run_trajectories(G, "shift-x", cfg, progress=False)
    part = run_trajectories(G, "shift-x", TrajectoryConfig(n_trajectories=3, n_steps=3, max_t=0.15, seed=3), progress=False)
    rows = whole.seed >= 3  # seeds 3..5 ran beside 0..2 in one batch, then alone: per-latent convergence and Adam
    assert torch.equal(whole.seed[rows], part.seed) and torch.equal(whole.t[rows], part.t)
    assert torch.allclose(whole.zt[rows], part.zt, atol=1e-5) and torch.allclose(whole.loss[rows], part.loss, rtol=1e-4)


def test_an_inverted_latent_depends_only_on_its_image_not_on_its_batch():
    from latentnav.correction.steps import invert

    G = ln.load_generator("bvae-dsprites-corr", device="cpu")
    z = G.sample_latent(range(100, 112), "z")
    with torch.no_grad():
        images = G(z.view(-1, *G.latent_shape("z")), space="z")
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    images = images + 0.05 * noise  # not exactly drawable: the inversion has work to do
    whole_z, whole_loss = invert(G, images, steps=10)
    batched = invert(G, images, steps=10, batch_size=5)  # the batches of a split: 0-4, 5-9, 10-11
    split = [invert(G, images[a:b], steps=10) for a, b in ((0, 7), (7, 12))]  # two ranks' blocks
    for z_inv, loss in (batched, (torch.cat([s[0] for s in split]), torch.cat([s[1] for s in split]))):
        assert torch.allclose(z_inv, whole_z, atol=1e-5) and torch.allclose(loss, whole_loss, rtol=1e-4)
    assert (whole_z - z).norm(dim=1).max() > 1e-3  # it did move


def test_classes_on_an_unconditional_model_is_one_line(tmp_path):
    res = run("discover", "--transform", "zoom", "--classes", "0-3", *QUICK, "-o", tmp_path / "x")
    assert res.exit_code == 2 and res.stderr == "error: bvae-dsprites is not class-conditional: it has no classes to choose from\n"
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------ two processes
def test_trajectory_discovery_on_two_processes_is_the_single_process_run(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert run("discover", "--transform", "shift-x", *QUICK, "-o", one).exit_code == 0
    res = torchrun("-m", "latentnav", "discover", "--transform", "shift-x", *QUICK, "-o", two, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("wrote") == 1  # rank 0 alone reports (and writes)
    a, b = load_direction(one / "direction.safetensors"), load_direction(two / "direction.safetensors")
    assert cos(a.u, b.u) >= 0.9999
    assert torch.allclose(a.knots, b.knots, atol=1e-4) and torch.allclose(a.values, b.values, atol=1e-4)
    assert a.meta["calibration"] == b.meta["calibration"] == "achieved"  # g fitted on the t read back (split by rank)
    for key in ("achieved_over_requested", "calibration_r2"):
        assert b.meta[key] == pytest.approx(a.meta[key], abs=1e-6), key
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert (ma["generator_evals"], ma["fits"], ma["fits_kept"]) == (mb["generator_evals"], mb["fits"], mb["fits_kept"])
    assert mb["fit_r2"] == pytest.approx(ma["fit_r2"], abs=1e-6)
    assert mb["mean_final_loss"] == pytest.approx(ma["mean_final_loss"], rel=1e-4)
    ta, tb = np.load(one / "trajectories.npz"), np.load(two / "trajectories.npz")
    for key in ("seed", "t", "kept"):  # the rows of both ranks, gathered in the single-process order
        assert np.array_equal(ta[key], tb[key]), key
    assert np.allclose(ta["zt"], tb["zt"], atol=1e-4)
    assert json.loads((two / "config.json").read_text())["processes"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # no temporary left


def test_ganspace_and_interfacegan_on_two_processes_are_the_single_process_results(tmp_path, bvae):
    res = torchrun(ROOT / "tests" / "dist_worker.py", tmp_path / "two.npz", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    two = np.load(tmp_path / "two.npz")
    assert int(two["world_size"]) == 2
    one = dist_worker.results(bvae)
    for name in ("moments", "incremental"):
        u1, u2 = one[f"ganspace_{name}_u"], two[f"ganspace_{name}_u"]
        assert (np.abs((u1 * u2).sum(axis=1)) >= 0.9999).all(), name  # the same components, up to sign
        assert np.allclose(one[f"ganspace_{name}_ratio"], two[f"ganspace_{name}_ratio"], rtol=1e-6), name
        assert int(one[f"ganspace_{name}_evals"]) == int(two[f"ganspace_{name}_evals"])
    assert float(np.dot(one["interfacegan_u"], two["interfacegan_u"])) >= 0.9999
    assert float(one["interfacegan_val_accuracy"]) == float(two["interfacegan_val_accuracy"])
    assert np.allclose(one["calibrated_values"], two["calibrated_values"], atol=1e-5)


def test_a_scorer_failing_on_one_rank_stops_every_rank_and_leaves_no_output(tmp_path):
    (tmp_path / "flaky.py").write_text(
        "import os\n\n\ndef brightness(images):\n"
        "    if os.environ['RANK'] == '1':  # wrong shape on the second shard only\n"
        "        return images.mean(dim=(2, 3)).repeat(1, 2)\n"
        "    return images.mean(dim=(1, 2, 3))\n"
    )  # fmt: skip
    res = torchrun("-m", "latentnav", "discover", "--method", "interfacegan", "--scorer", "flaky:brightness",
                   "--samples", "200", "--ratio", "0.1", "--device", "cpu", "-o", tmp_path / "out", cwd=tmp_path)  # fmt: skip
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert lines == ["error: rank 1 of 2: flaky:brightness returned scores of shape [100, 2]; expected [100] (one score per image)"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == ["flaky.py"]


CORRECT = ["--model", "bvae-dsprites-corr", "--attribute", "pos_x", "--against", "pos_y", "--scored", "400", "--samples", "100", "--invert-steps", "20", "--fit-iterations", "3",
           "--fit-steps", "20", "--eval-n", "100", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def x_direction(tmp_path_factory) -> Path:
    """InterFaceGAN's x direction on the correlated model (it drags y along), from few samples."""
    from latentnav.measure import get_meter

    G = ln.load_generator("bvae-dsprites-corr", device="cpu")
    d = ln.interfacegan(G, get_meter("pos_x", G), n_samples=400, ratio=0.1, name="pos_x", allow_nan=True)
    return d.save(tmp_path_factory.mktemp("direction") / "x.safetensors")


def assert_same_numbers(a, b, path: str = "report") -> None:
    """Nested dicts / lists equal: integers and strings exactly, floats within float tolerance."""
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for key in a:
            assert_same_numbers(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_numbers(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-4, abs=1e-6), path
    else:
        assert a == b, path


def test_the_corrector_on_two_processes_is_the_single_process_run(tmp_path, x_direction):
    one, two = tmp_path / "one" / "x.safetensors", tmp_path / "two" / "x.safetensors"
    res = run("correct", "--direction", x_direction, *CORRECT, "-o", one)
    assert res.exit_code == 0, res.output
    res = torchrun("-m", "latentnav", "correct", "--direction", x_direction, *CORRECT, "-o", two, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("wrote") == 1  # rank 0 alone reports (and writes)
    for name in ("x.safetensors", "x.projection.safetensors"):
        a, b = load_direction(one.parent / name), load_direction(two.parent / name)
        assert cos(a.u, b.u) >= 0.9999 and torch.allclose(a.values, b.values, atol=1e-4), name
    ra, rb = (json.loads((d / "x.report.json").read_text()) for d in (one.parent, two.parent))
    assert rb["low_density_made"] == 100 and rb["low_density_kept"] >= 5  # each rank inverted 50 of them
    for timing in ("stage_seconds", "stage_cpu_seconds"):  # the same stages, each timed on its own run
        assert sorted(ra.pop(timing)) == sorted(rb.pop(timing)), timing
    assert_same_numbers(ra, rb)
    assert sorted(p.name for p in two.parent.iterdir()) == sorted(p.name for p in one.parent.iterdir())  # no temporary


def test_an_inversion_failing_on_one_rank_stops_every_rank_and_leaves_no_output(tmp_path, x_direction):
    res = torchrun(ROOT / "tests" / "dist_worker.py", "--break-inversion-on-rank-1", "correct", "--direction",
                   x_direction, *CORRECT, "-o", tmp_path / "x.safetensors", cwd=tmp_path)  # fmt: skip
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert lines == ["error: rank 1 of 2: RuntimeError: out of memory while inverting (planted)"]
    assert "exitcode  : 1" in res.stderr  # torchrun's report: the ranks ended with exit 1
    assert not any(tmp_path.iterdir())


def test_batch_spreads_whole_jobs_over_two_processes(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    batch = ["discover", "--transforms", "shift-x,zoom", "--trajectories", "4", "--steps", "1", "--max-iters", "6", "--device", "cpu"]
    assert run(*batch, "-o", one).exit_code == 0
    res = torchrun("-m", "latentnav", *batch, "-o", two, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 directions on 2 processes" in res.stdout
    rows = json.loads((two / "jobs.json").read_text())
    assert [r["job"] for r in rows] == ["shift-x", "zoom"]
    for row in rows:
        a = load_direction(one / row["job"] / "direction.safetensors")
        b = load_direction(two / row["job"] / "direction.safetensors")
        assert b.transform == row["transform"] and b.meta["class_index"] is None
        assert cos(a.u, b.u) >= 0.9999 and torch.allclose(a.values, b.values, atol=1e-4), row["job"]
        assert a.meta["generator_evals"] == b.meta["generator_evals"]


def test_a_batch_of_classes_binds_each_class(tmp_path):
    from latentnav.generators import biggan
    from latentnav.methods.trajectory.discover import Job, discover, discover_jobs

    layers = [[False, 16, 16], [True, 16, 8], [False, 8, 4], [True, 4, 2], [False, 2, 1], [True, 1, 1]]
    cfg = biggan.BigGANConfig.from_dict({"output_dim": 32, "z_dim": 16, "class_embed_dim": 16, "channel_width": 8,
                                         "num_classes": 4, "layers": layers, "attention_layer_position": 3})  # fmt: skip
    model = biggan.write_checkpoint(tmp_path / "tiny", cfg, biggan.random_checkpoint(cfg, seed=1))
    quick = {"n_trajectories": 3, "n_steps": 1, "max_iters": 2}
    G = ln.load_generator(model, device="cpu", class_index=0)
    jobs = [Job("zoom", 1), Job("zoom", 2)]
    batch = discover_jobs(G, jobs, ln.TrajectoryConfig(**quick))
    assert [j.name for j in jobs] == ["class-0001-zoom", "class-0002-zoom"]
    assert [d.meta["class_index"] for d in batch] == [1, 2]
    alone = discover(ln.load_generator(model, device="cpu", class_index=2), "zoom", progress=False, **quick)
    assert cos(alone.u, batch[1].u) >= 0.9999 and cos(batch[0].u, batch[1].u) < 0.9999  # each job had its own class
    tiny = ["--trajectories", "3", "--steps", "1", "--max-iters", "2", "--device", "cpu"]
    res = run("discover", "--model", model, "--classes", "3-4", "--transform", "zoom", *tiny, "-o", tmp_path / "x")
    assert res.exit_code == 2 and "classes must lie in 0..3 for" in res.stderr and not (tmp_path / "x").exists()
