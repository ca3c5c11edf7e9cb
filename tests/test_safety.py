"""Nothing a user owns is lost, every bad input ends in one line before the work, memory does not grow with the
request, and a run that worked badly says so (issue: self-contained, safe and honest).

Each CLI case asserts the exit code, one line on stderr with no traceback, and that the user's files are
byte-identical afterwards.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from toys import BlobGenerator

import latentnav as ln
from latentnav import io
from latentnav.cli import main, parse_seeds
from latentnav.errors import OutputBusyError, OutputError


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(res, code: int | None = None, *, contains: str = "") -> str:
    """Assert a one-line ``error:`` on stderr, no traceback, a non-zero exit (``code`` if given); return it."""
    assert res.exit_code != 0, res.output
    if code is not None:
        assert res.exit_code == code, (res.exit_code, res.stderr)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, res.stderr
    assert contains in errors[0], errors[0]
    return errors[0]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its sha256."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture
def user_dir(tmp_path):
    """A folder with files a user cares about."""
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.tex").write_text("\\section{Results}\n")
    (d / "data.bin").write_bytes(os.urandom(1000))
    return d


def shift_x_direction(path: Path, model: str = "bvae-dsprites") -> Path:
    """A calibrated shift-x direction file along latent axis 0 of the embedded default (g linear, 0.1 per unit)."""
    u = torch.zeros(10)
    u[0] = 1.0
    knots = torch.linspace(-4, 4, 9)
    d = ln.Direction(u, knots, 0.1 * knots, model=model, transform="shift-x", method="trajectory",
                     meta={"unit": "fraction of width"})  # fmt: skip
    d.save(path)
    return path


@pytest.fixture(scope="module")
def direction_file(tmp_path_factory):
    return shift_x_direction(tmp_path_factory.mktemp("dir") / "x.safetensors")


# ------------------------------------------------------------------------------------------ 2. files are safe
def test_a_run_appears_whole_with_a_manifest_and_leaves_no_temporary_folder(tmp_path):
    out = tmp_path / "runs" / "a"
    with io.RunDir(out, command="test") as rd:
        assert rd.tmp.parent == out.parent and rd.tmp.name.startswith(".latentnav-tmp-a-") and not out.exists()
        rd.commit(lambda tmp: (tmp / "x.txt").write_text("1"))
    manifest = json.loads((out / io.MANIFEST).read_text())
    assert manifest["files"] == ["x.txt"] and manifest["written_by"] == "latentnav"
    assert sorted(p.name for p in out.parent.iterdir()) == ["a"]


def test_files_that_appear_during_a_run_are_never_deleted_and_the_result_is_kept(tmp_path):
    out = tmp_path / "a"
    with io.RunDir(out, command="test") as rd:
        out.mkdir()
        (out / "notes.txt").write_text("written by the user while the run worked")
        with pytest.raises(OutputError, match="this run's result is in"):
            rd.commit(lambda tmp: (tmp / "x.txt").write_text("1"))
    assert (out / "notes.txt").read_text() == "written by the user while the run worked"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    (kept,) = [p for p in tmp_path.iterdir() if p.name.startswith("a.")]
    assert (kept / "x.txt").read_text() == "1"


def test_force_does_not_delete_files_that_appear_during_a_run(tmp_path):
    out = tmp_path / "a"
    with io.RunDir(out) as rd:
        rd.commit(lambda tmp: (tmp / "x.txt").write_text("old"))
    with io.RunDir(out, force=True) as rd:
        (out / "notes.txt").write_text("mine")
        with pytest.raises(OutputError, match="did not write"):
            rd.commit(lambda tmp: (tmp / "x.txt").write_text("new"))
    assert (out / "notes.txt").read_text() == "mine" and (out / "x.txt").read_text() == "old"


def test_a_second_run_into_the_same_output_stops_at_once(tmp_path, direction_file):
    out = tmp_path / "a"
    first = io.RunDir(out).open()
    with pytest.raises(OutputBusyError):
        io.RunDir(out).open()
    res = run("evaluate", "--direction", direction_file, "-n", 2, "--device", "cpu", "-o", out)
    one_line_error(res, 2, contains="another latentnav run is writing")
    first.commit(lambda tmp: (tmp / "x.txt").write_text("first"))
    assert (out / "x.txt").read_text() == "first"  # the first run's result is not dropped


def test_a_temporary_folder_left_by_a_killed_run_is_removed_by_the_next_run(tmp_path):
    out = tmp_path / "a"
    stale = tmp_path / ".latentnav-tmp-a-dead1234"
    stale.mkdir()
    (stale / ".lock").write_text("999999\n")  # no process holds its lock
    (stale / "half.png").write_bytes(b"\x89PNG")
    not_ours = tmp_path / ".latentnav-tmp-a-nolock"  # no lock file: not removed
    not_ours.mkdir()
    with io.RunDir(out) as rd:
        rd.commit(lambda tmp: (tmp / "x.txt").write_text("1"))
    assert not stale.exists() and not_ours.exists() and (out / "x.txt").exists()


def test_a_killed_cli_run_leaves_nothing_the_next_run_trips_over(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "latentnav", "discover", "--transform", "shift-x", "--device", "cpu", "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.time() + 60
    while not any(p.name.startswith(".latentnav-tmp-run-") for p in tmp_path.iterdir()) and time.time() < deadline:
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".latentnav-tmp-")]
    assert left and not out.exists()  # killed: its temporary folder is still there
    io.claim(out)  # what the next run into the same place does first
    assert not any(p.name.startswith(".latentnav-tmp-") for p in tmp_path.iterdir())


def test_ctrl_c_exits_130_and_leaves_no_output(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "latentnav", "discover", "--transform", "shift-x", "--device", "cpu", "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, text=True)
    deadline = time.time() + 180  # a busy machine with a fresh clone (no bytecode yet) can take a minute to get there
    while not any(p.name.startswith(".latentnav-tmp-run-") for p in tmp_path.iterdir()) and time.time() < deadline:
        time.sleep(0.1)
    started = any(p.name.startswith(".latentnav-tmp-run-") for p in tmp_path.iterdir())
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"no exit within 120 s of Ctrl-C (sent {'during the run' if started else 'before the run began'})")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_ctrl_c_that_was_swallowed_on_its_way_up_still_stops_the_run_before_it_publishes(tmp_path, monkeypatch,
                                                                                          direction_file):  # fmt: skip
    from latentnav import interrupt

    monkeypatch.setattr(interrupt, "_fired", False)  # restored to False after the test
    try:  # what torch's C++ can do to a KeyboardInterrupt raised while it runs Python: catch it and carry on
        interrupt._handler(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass
    assert interrupt.interrupted()
    res = run("evaluate", "--direction", direction_file, "-n", 2, "--device", "cpu", "-o", tmp_path / "eval")
    one_line_error(res, 130, contains="interrupted (Ctrl-C)")
    res = run("traverse", "--direction", direction_file, "--device", "cpu", "-o", tmp_path / "grid.png")
    one_line_error(res, 130, contains="interrupted (Ctrl-C)")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_force_replaces_only_an_earlier_latentnav_run(tmp_path, user_dir, direction_file):
    before = snapshot(user_dir)
    res = run("evaluate", "--direction", direction_file, "-n", 2, "--device", "cpu", "--force", "-o", user_dir)
    one_line_error(res, 2, contains="was not written by latentnav")
    assert snapshot(user_dir) == before
    out = tmp_path / "eval"
    assert run("evaluate", "--direction", direction_file, "-n", 2, "--device", "cpu", "-o", out).exit_code == 0
    (out / "my-notes.txt").write_text("mine")
    res = run("evaluate", "--direction", direction_file, "-n", 2, "--device", "cpu", "--force", "-o", out)
    one_line_error(res, 2, contains="holds files latentnav did not write (my-notes.txt)")
    (out / "my-notes.txt").unlink()
    res = run("evaluate", "--direction", direction_file, "-n", 3, "--device", "cpu", "--force", "-o", out)
    assert res.exit_code == 0, res.output
    assert json.loads((out / "metrics.json").read_text())["n"] == 3


@pytest.mark.parametrize("where", ["cwd", "parent", "home"])
def test_force_refuses_the_working_directory_its_parents_and_home(tmp_path, monkeypatch, user_dir, direction_file, where):
    monkeypatch.chdir(user_dir)
    monkeypatch.setenv("HOME", str(user_dir))
    before = snapshot(tmp_path)
    target = {"cwd": ".", "parent": "..", "home": str(user_dir)}[where]
    res = run("evaluate", "--direction", direction_file, "-n", 2, "--device", "cpu", "--force", "-o", target)
    one_line_error(res, 2, contains="working directory")
    assert snapshot(tmp_path) == before


def test_force_refuses_a_directory_holding_the_runs_input(tmp_path):
    inputs = tmp_path / "x"
    inputs.mkdir()
    shift_x_direction(inputs / "direction.safetensors")
    before = snapshot(inputs)
    res = run("evaluate", "--direction", inputs / "direction.safetensors", "-n", 2, "--device", "cpu", "--force",
              "-o", inputs)  # fmt: skip
    one_line_error(res, 2, contains="holds this run's input")
    assert snapshot(inputs) == before


def test_correct_refuses_to_write_over_its_input_direction(tmp_path):
    d = shift_x_direction(tmp_path / "x.safetensors", model="bvae-dsprites-corr")
    before = snapshot(tmp_path)
    res = run("correct", "--direction", d, "--attribute", "pos_x", "--against", "pos_y", "--force", "-o", d)
    one_line_error(res, 2, contains="is this run's input")
    assert snapshot(tmp_path) == before


def test_single_file_outputs_are_not_overwritten_without_force(tmp_path):
    grid = tmp_path / "samples.png"
    grid.write_bytes(b"my picture")
    res = run("sample", "--seeds", "0-3", "--device", "cpu", "-o", grid)
    one_line_error(res, 2, contains="exists")
    assert grid.read_bytes() == b"my picture"
    res = run("sample", "--seeds", "0-3", "--device", "cpu", "--force", "-o", grid)
    assert res.exit_code == 0 and grid.read_bytes()[:4] == b"\x89PNG"


def _train_args(out: Path, *extra) -> list:
    return ["train", "bvae", "--steps", "3", "--batch-size", "4", "--checkpoint-every", "2", *extra, "-o", out]


def test_train_refuses_an_existing_model_without_force_and_a_refused_resume_changes_nothing(tmp_path):
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"the user's own model")
    res = run(*_train_args(model))
    one_line_error(res, 2, contains="exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"] and model.read_bytes() == b"the user's own model"
    out = tmp_path / "run" / "v.safetensors"
    assert run(*_train_args(out)).exit_code == 0
    before = snapshot(out.parent)
    res = run(*_train_args(out, "--beta", "2"))  # another setting: the checkpoint there cannot be resumed
    one_line_error(res, contains="other settings (beta=4.0 there, 2.0 now)")
    assert snapshot(out.parent) == before
    res = run(*_train_args(out, "--beta", "2", "--force"))
    assert res.exit_code == 0, res.output
    assert json.loads(out.with_name("v.config.json").read_text())["beta"] == 2.0


def test_ctrl_c_during_training_writes_a_checkpoint_and_says_how_to_resume(tmp_path):
    out = tmp_path / "v.safetensors"
    cmd = [sys.executable, "-m", "latentnav", "train", "bvae", "--steps", "100000", "--batch-size", "4",
           "--checkpoint-every", "100000", "--threads", "1", "-o", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not out.with_name("v.safetensors.log.jsonl").exists() and time.time() < deadline:  # step 100 is done
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: interrupted at step ") and "run the same command again to resume" in last
    assert "latentnav train bvae --steps 100000" in last
    step = torch.load(out.with_name("v.safetensors.ckpt.pt"), weights_only=True)["step"]
    assert step >= 1 and out.exists()


def test_outputs_follow_the_umask(tmp_path, direction_file):
    old = os.umask(0o027)
    try:
        res = run("evaluate", "--direction", direction_file, "-n", 2, "--device", "cpu", "-o", tmp_path / "e")
        assert res.exit_code == 0, res.output
        res = run("correct", "--model", "bvae-dsprites", "--direction", direction_file, "--attribute", "pos_x",
                  "--against", "pos_y", "--scored", "60", "--samples", "10", "--invert-steps", "2", "--fit-iterations",
                  "1", "--eval-n", "8", "--device", "cpu", "-o", tmp_path / "c.safetensors")  # fmt: skip
        assert res.exit_code == 0, res.output
    finally:
        os.umask(old)
    assert oct((tmp_path / "e").stat().st_mode & 0o777) == oct(0o750)
    for p in [*(tmp_path / "e").iterdir(), *tmp_path.glob("c.*")]:
        assert oct(p.stat().st_mode & 0o777) == oct(0o640), p


# --------------------------------------------------------------------------------- 3. one line, before the work
@pytest.fixture
def no_loading(monkeypatch):
    """Fail the test if a command loads a model (its input errors must come first)."""
    import latentnav.generators.registry as registry

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad input was found")

    monkeypatch.setattr(registry, "load_generator", refuse)


@pytest.mark.parametrize("device,msg", [("cuda", "no CUDA device"), ("mps", "'mps' is not available"),
                                        ("cuda:7", "no CUDA device"), ("tpu", "unknown device")])  # fmt: skip
def test_a_device_this_machine_lacks_is_one_line(tmp_path, device, msg, no_loading):
    if torch.cuda.is_available() and device.startswith("cuda"):
        pytest.skip("this machine has CUDA")
    res = run("sample", "--device", device, "-o", tmp_path / "s.png")
    one_line_error(res, 2, contains=msg)
    res = run("discover", "--transform", "shift-x", "--device", device, "-o", tmp_path / "d")
    one_line_error(res, 2, contains=msg)
    assert not any(tmp_path.iterdir())


def test_outputs_are_checked_before_the_work(tmp_path, monkeypatch, no_loading, direction_file):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        (("discover", "--transform", "shift-x", "-o", afile / "run"), "is a file, not a directory"),
        (("discover", "--transform", "shift-x", "-o", afile), "is a file"),
        (("sample", "-o", afile / "s.png"), "is a file, not a directory"),
        (("sample", "-o", tmp_path / "s.xyz"), "must end in .png"),
        (("traverse", "--direction", direction_file, "--gif", tmp_path / "t.png", "-o", tmp_path / "t2.png"), "must end in .gif"),
        (("correct", "--direction", direction_file, "--attribute", "pos_x", "--against", "pos_y", "-o", tmp_path / "c.pt"), "must end in .safetensors"),
        (("evaluate-model", "-o", tmp_path / "m.csv"), "must end in .json"),
        (("train", "bvae", "-o", tmp_path / "m.pt"), "must end in .safetensors"),
    ]  # fmt: skip
    for args, msg in cases:
        one_line_error(run(*args), 2, contains=msg)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(io.os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    one_line_error(run("discover", "--transform", "shift-x", "-o", locked / "run"), 2, contains="is not writable")
    one_line_error(run("sample", "-o", locked / "s.png"), 2, contains="is not writable")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "locked"] and not any(locked.iterdir())


def test_names_are_checked_before_the_work(tmp_path, no_loading, direction_file):
    cases = [
        (("discover", "--transform", "sheer", "-o", tmp_path / "a"), "unknown transform 'sheer'; known: brightness"),
        (("discover", "--model", "nope", "--transform", "zoom", "-o", tmp_path / "a"), "unknown model 'nope'"),
        (("discover", "--method", "sefa", "--attribute", "smile", "-o", tmp_path / "a"), "unknown attribute 'smile'"),
        (("discover", "--method", "interfacegan", "--scorer", "no_such_module:f", "-o", tmp_path / "a"), "cannot import scorer module"),
        (("compare", "--target", "smile", "-o", tmp_path / "a"), "unknown attribute 'smile'"),
        (("evaluate", "--direction", direction_file, "--attributes", "pos_x,smile", "-o", tmp_path / "a"), "unknown attribute 'smile'"),
        (("correct", "--direction", direction_file, "--attribute", "pos_x", "--against", "glasses", "-o", tmp_path / "c.safetensors"), "unknown attribute 'glasses'"),
        (("discover", "--transforms", "zoom,sheer", "-o", tmp_path / "a"), "unknown transform 'sheer'"),
    ]  # fmt: skip
    for args, msg in cases:
        one_line_error(run(*args), contains=msg)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("seeds", ["", " ", "-3", "5-2", "1,,2", "a-b", "1.5", str(2**64)])
def test_bad_seeds_are_one_line(tmp_path, seeds, no_loading):
    one_line_error(run("sample", "--seeds", seeds, "-o", tmp_path / "s.png"), 2, contains="--seeds")
    one_line_error(run("traverse", "--direction", "x.safetensors", "--seeds", seeds, "-o", tmp_path / "t.png"), 2)


def test_direction_files_that_cannot_be_used_are_one_line(tmp_path):
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    text = tmp_path / "notes.safetensors"
    text.write_text("not a tensor file")
    strings = tmp_path / "s.npy"
    np.save(strings, np.array(["a", "b"]))
    good = shift_x_direction(tmp_path / "good.safetensors")
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(good.read_bytes()[:-20])
    for path, extra in ((empty, ()), (text, ()), (truncated, ()), (strings, ("--space", "z")),
                        (tmp_path / "missing.safetensors", ())):  # fmt: skip
        before = snapshot(tmp_path)
        one_line_error(run("traverse", "--direction", path, *extra, "--device", "cpu", "-o", tmp_path / "t.png"))
        assert snapshot(tmp_path) == before


def test_a_model_file_whose_settings_disagree_with_its_tensors_is_one_line(tmp_path):
    from safetensors.torch import load_file, save_file

    from latentnav.generators import betavae

    path = tmp_path / "m.safetensors"
    betavae.save(betavae.BurgessVAE(z_dim=4), path)
    tensors = load_file(str(path))
    save_file(tensors, str(path), metadata={"arch": "betavae", "settings": json.dumps({"z_dim": 6, "img_channels": 1})})
    one_line_error(run("sample", "--model", path, "--device", "cpu", "-o", tmp_path / "s.png"))
    assert not (tmp_path / "s.png").exists()


def test_bugs_keep_their_traceback(tmp_path, monkeypatch):
    import latentnav.viz as viz

    def broken(*args, **kwargs):
        raise ValueError("a bug inside latentnav")

    monkeypatch.setattr(viz, "grid", broken)
    res = run("sample", "--seeds", "0-1", "--device", "cpu", "-o", tmp_path / "s.png")
    assert isinstance(res.exception, ValueError) and "a bug inside latentnav" in str(res.exception)
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------ 4. contents checked
def test_t_beyond_the_transforms_range_and_alpha_beyond_the_prior_are_refused(tmp_path, direction_file):
    res = run("traverse", "--direction", direction_file, "--t", "-2,2", "--device", "cpu", "-o", tmp_path / "t.png")
    one_line_error(res, 2, contains="--extrapolate")
    res = run("traverse", "--direction", direction_file, "--alpha", "-100,100", "--device", "cpu", "-o", tmp_path / "t.png")
    one_line_error(res, 2, contains="--extrapolate")
    res = run("sample", "--direction", direction_file, "--t-dist", "uniform:-3,3", "--device", "cpu", "-o", tmp_path / "s.png")
    one_line_error(res, 2, contains="--extrapolate")
    assert not any(p.suffix == ".png" for p in tmp_path.iterdir())
    res = run("traverse", "--direction", direction_file, "--t", "-0.9,0.9", "--steps", "3", "--extrapolate",
              "--device", "cpu", "-o", tmp_path / "t.png")  # fmt: skip
    assert res.exit_code == 0, res.output


# ------------------------------------------------------------------------------------------------- 5. memory
def test_seed_ranges_are_not_expanded():
    t0 = time.perf_counter()
    seeds = parse_seeds("0-100000000,7")
    assert len(seeds) == 100_000_002 and seeds[100_000_001] == 7 and seeds[5] == 5
    assert time.perf_counter() - t0 < 0.1
    assert [len(c) for c in parse_seeds("0-9").chunks(4)] == [4, 4, 2]


def test_a_huge_grid_is_refused_at_once_and_a_folder_is_written_in_chunks(tmp_path, monkeypatch):
    res = run("sample", "--seeds", "0-100000000", "-o", tmp_path / "s.png")
    one_line_error(res, 2, contains="write them to a folder instead")
    import latentnav.generators.base as base

    sizes = []
    original = base.Generator.G

    def counted(self, latent, *args, **kwargs):
        sizes.append(len(latent))
        return original(self, latent, *args, **kwargs)

    monkeypatch.setattr(base.Generator, "G", counted)
    res = run("sample", "-n", "2500", "--device", "cpu", "-o", tmp_path / "faces/")
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in (tmp_path / "faces").glob("*.png"))
    assert len(files) == 2500 and files[0] == "seed0000.png" and files[-1] == "seed2499.png"
    assert max(sizes) <= 1024 and len(sizes) == 3  # three chunks of at most the generator's batch size
    G = ln.load_generator("bvae-dsprites", device="cpu")
    from PIL import Image

    from latentnav.viz import to_uint8

    expected = to_uint8(G(G.sample_z(seeds=[2499])).detach())[0, :, :, 0]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "faces" / "seed2499.png")), expected)


# ------------------------------------------------------------------------------------------------ 6. honesty
def test_discovery_measures_control_on_fresh_latents_and_warns_when_it_is_weak():
    import warnings

    G = BlobGenerator()
    good = ln.discover(G, "shift-x", n_trajectories=16, progress=False, max_t=0.15)
    c = good.direction.meta["control"]
    assert good.metrics["control"] == c
    assert c["n_latents"] == 32 and c["first_seed"] == 70_000 and not c["weak"] and c["warning"] is None
    assert c["r2"] > 0.9 and 0.8 < c["slope"] < 1.2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bad = ln.discover(G, "zoom", n_trajectories=16, progress=False)  # a blob of fixed size cannot zoom
    c = bad.metrics["control"]
    assert c["weak"] and c["slope"] < 0.5 and c["warning"].startswith("weak control")
    assert any("weak control" in str(w.message) for w in caught)


def test_discover_prints_a_warning_line_when_control_is_weak(tmp_path, monkeypatch):
    import latentnav.generators.registry as registry

    monkeypatch.setattr(registry, "load_generator", lambda *a, **k: BlobGenerator())
    res = run("discover", "--transform", "zoom", "--trajectories", "16", "--device", "cpu", "-o", tmp_path / "z")
    assert res.exit_code == 0, res.output
    warning = [line for line in res.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "weak control" in warning[0] and "traverse.png" in warning[0]
    metrics = json.loads((tmp_path / "z" / "metrics.json").read_text())
    assert metrics["control"]["weak"] is True and metrics["control"]["slope"] < 0.5
    assert "control on 32 fresh latents: R^2" in res.stdout


# ------------------------------------------------------------------------------- a second campaign's findings
@pytest.mark.parametrize("args,msg", [
    (("sample", "-m", "x" * 300, "-o", "a.png"), "File name too long"),
    (("sample", "-m", "", "-o", "a.png"), "unknown model ''"),
    (("traverse", "--direction", "DIR", "--t", "-0.1,0.1", "-o", "out.txt"), "must end in .png"),
    (("traverse", "--direction", "DIR", "--alpha", "-1,1", "--mode", "absolute", "-o", "a.png"), "give --t, not --alpha"),
    (("discover", "-t", "shift-x", "--seed", str(2**40), "-o", "r"), "--seed"),
    (("discover", "-t", "hue", "-o", "r"), "hue needs RGB images"),
    (("discover", "--transforms", "shift-x,hue", "-o", "r"), "hue needs RGB images"),
    (("discover", "-t", "shift-x", "--layers", "0-3", "-o", "r"), "--layers belongs to the other methods"),
    (("discover", "--method", "sefa", "--feature", "latent", "-o", "r"), "--feature does not apply to --method sefa"),
    (("discover", "-t", "shift-x", "--loss", "mse", "--sigma", "2", "-o", "r"), "--loss mse has none"),
    (("discover", "-t", "shift-x", "--trajectories", "1000000000", "-o", "r"), "--trajectories"),
    (("evaluate", "--direction", "DIR", "-n", "1000000000", "-o", "r"), "-n"),
    (("compare", "--target", "shift-x", "--t", "-5,5", "-o", "r"), "beyond the range of shift-x"),
    (("traverse", "--direction", "DIR", "--t", "-0.1,0_1", "-o", "a.png"), "--t"),
    (("sample", "--seeds", "\u0663", "-o", "a.png"), "--seeds"),
    (("train", "bvae", "--z-dim", "100000000", "-o", "m.safetensors"), "--z-dim"),
    (("train", "infogan", "--codes", "cat:100000000", "-o", "m.safetensors"), "at most 1024"),
    (("correct", "--direction", "DIR", "--attribute", "pos_x", "--against", "pos_y", "--scored", "20", "-o", "c.safetensors"), "--scored"),
])  # fmt: skip
def test_the_second_campaigns_bad_inputs_are_one_line_before_the_work(tmp_path, monkeypatch, no_loading, direction_file,
                                                                       args, msg):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    res = run(*[str(direction_file) if a == "DIR" else a for a in args])
    one_line_error(res, 2, contains=msg)
    assert not any(tmp_path.iterdir())


def test_outputs_that_are_links_or_inside_the_package_are_refused(tmp_path, no_loading):
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    one_line_error(run("sample", "-o", tmp_path / "dangling.png"), 2, contains="is a symbolic link")
    (tmp_path / "dd").symlink_to(tmp_path / "nowhere")
    one_line_error(run("discover", "-t", "shift-x", "-o", tmp_path / "dd"), 2, contains="is a symbolic link")
    weights = Path(ln.__file__).parent / "weights" / "bvae-dsprites-b4.safetensors"
    before = weights.read_bytes()
    res = run("train", "bvae", "--steps", "2", "--force", "-o", weights)
    one_line_error(res, 2, contains="inside the installed latentnav package")
    assert weights.read_bytes() == before and not weights.with_name(weights.name + ".ckpt.pt").exists()


def test_a_resume_with_fewer_steps_is_refused_and_a_run_that_never_checkpointed_is_replaced(tmp_path):
    out = tmp_path / "m.safetensors"
    assert run(*_train_args(out)).exit_code == 0  # 3 steps
    before = snapshot(tmp_path)
    res = run("train", "bvae", "--steps", "2", "--batch-size", "4", "--checkpoint-every", "2", "-o", out)
    one_line_error(res, 2, contains="has done 3 steps, more than --steps 2")
    assert snapshot(tmp_path) == before
    left = tmp_path / "n.safetensors"
    left.with_name("n.config.json").write_text(json.dumps({"command": "train bvae", "lr": 1e30}))  # a run that diverged
    res = run(*_train_args(left))
    assert res.exit_code == 0, res.output
    assert json.loads(left.with_name("n.config.json").read_text())["lr"] == 1e-3


def test_a_scorer_that_fails_is_one_line(tmp_path, monkeypatch, direction_file):
    (tmp_path / "failing_scorers.py").write_text("def raises(images):\n    raise RuntimeError('my model is not loaded')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    res = run("evaluate", "--direction", direction_file, "--target", "failing_scorers:raises", "-n", "2", "-o", "ev")
    one_line_error(res, 2, contains="scorer failing_scorers:raises failed on")
    assert "my model is not loaded" in res.stderr and not (tmp_path / "ev").exists()


def test_no_change_at_all_is_no_control():
    from latentnav.metrics.control import steerability

    s = steerability([-0.1, 0.0, 0.1], np.zeros((3, 5)))
    assert s["r2"] == 0.0 and s["slope"] == 0.0


def test_an_error_after_ctrl_c_is_reported_as_the_interruption(tmp_path, monkeypatch):
    """A Ctrl-C that lands while torch's C++ code reads a weight file comes back as that code's own error; the
    program reports the interruption (exit 130), not a corrupted file, and writes nothing."""
    from click.testing import CliRunner

    from latentnav import interrupt
    from latentnav.cli import common
    from latentnav.cli.app import main
    from latentnav.errors import CheckpointError

    ctrl_c = [True]

    def interrupted_load(*args, **kwargs):
        interrupt._fired = ctrl_c[0]  # what the SIGINT handler does before its KeyboardInterrupt is lost in C++
        raise CheckpointError("bvae-dsprites-b4.safetensors: not a readable safetensors file (truncated or corrupted)")

    monkeypatch.setattr(interrupt, "_fired", False)
    monkeypatch.setattr(common, "load", interrupted_load)
    res = CliRunner().invoke(main, ["discover", "--transform", "shift-x", "-o", str(tmp_path / "run")])
    assert res.exit_code == 130
    assert res.output.strip().splitlines()[-1] == "error: interrupted (Ctrl-C); nothing was written except what the lines above say"
    assert list(tmp_path.iterdir()) == []
    ctrl_c[0] = False
    res = CliRunner().invoke(main, ["discover", "--transform", "shift-x", "-o", str(tmp_path / "run")])
    assert res.exit_code == 1 and "truncated or corrupted" in res.output  # without Ctrl-C: the file's error
