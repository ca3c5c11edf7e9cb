"""The package's shape: no import cycles, and registries a user extends from outside the package."""

import ast
import sys
from pathlib import Path

import torch
from click.testing import CliRunner
from toys import PlantedGenerator

import latentnav as ln
from latentnav.cli import main
from latentnav.evaluate import compare
from latentnav.generators.architectures import ARCHITECTURES, register_architecture
from latentnav.methods import METHODS, Candidates, register_method

PACKAGE = Path(ln.__file__).parent


def import_graph() -> dict[str, set[str]]:
    """latentnav module -> the latentnav modules it imports anywhere (inside functions too)."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                # ``from pkg import submodule`` needs the submodule (pkg is only its parent), ``from pkg import name`` pkg
                targets = submodules + ([base] if len(submodules) < len(node.names) else [])
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    assert len(graph) > 40 and "latentnav.methods.trajectory.discover" in graph
    assert cycles(graph) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]  # the check itself works


def _load_blob(path, *, name, device="auto", **settings):
    G = PlantedGenerator(seed=int(Path(path).read_text()))
    G.name = name
    return G


def test_a_toy_architecture_and_a_toy_method_registered_from_outside_run_through_discover_and_compare(tmp_path):
    planted = lambda G, **kw: Candidates([ln.Direction(G.u_x, torch.tensor([-1.0, 1.0]), torch.tensor([-1.0, 1.0]),  # noqa: E731
                                                       model=G.name, method="planted", calibrated=False)], "planted")
    register_architecture("toy-blob", _load_blob, sniff=lambda path: Path(path).suffix == ".blob")
    register_method("planted", planted, "the planted x direction")
    try:
        (tmp_path / "m.blob").write_text("3")
        G = ln.load_generator(tmp_path / "m.blob")
        assert isinstance(G, PlantedGenerator) and G.name == str(tmp_path / "m.blob")
        (run,) = compare(G, "pos_x", methods=["planted"], attributes=["pos_x", "pos_y"], n_eval=8)
        assert run.method == "planted" and torch.dot(run.direction.u, G.u_x).item() > 0.999
        assert run.evaluation.metrics["steerability"]["r2"] > 0.8
        res = CliRunner().invoke(main, ["discover", "--model", str(tmp_path / "m.blob"), "--method", "planted", "--attribute",
                                        "pos_x", "-o", str(tmp_path / "run")])  # fmt: skip
        assert res.exit_code == 0, res.output
        d = ln.load_direction(tmp_path / "run" / "direction.safetensors")
        assert d.method == "planted" and d.calibrated and torch.dot(d.u, G.u_x).item() > 0.999
        res = CliRunner().invoke(main, ["discover", "--model", str(tmp_path / "m.blob"), "--transform", "shift-x",
                                        "--trajectories", "8", "-o", str(tmp_path / "traj")])  # fmt: skip
        assert res.exit_code == 0, res.output
    finally:
        ARCHITECTURES.pop("toy-blob", None)
        METHODS.pop("planted", None)
    res = CliRunner().invoke(main, ["discover", "--method", "planted", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "'planted' is not one of" in res.stderr


def test_functions_are_short_and_the_cli_only_parses_calls_and_echoes():
    long = []
    for path in PACKAGE.rglob("*.py"):
        limit = 40 if "cli" in path.relative_to(PACKAGE).parts[:1] else 80
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert long == []


def test_a_notebook_run_saves_the_same_files_as_the_command(tmp_path):
    import json

    import numpy as np
    from safetensors.torch import load_file

    args = {"n_trajectories": 8, "n_steps": 2, "max_iters": 3}
    run = ln.discover(ln.load_generator("bvae-dsprites", device="cpu"), "shift-x", progress=False, **args)
    assert "control on 32 fresh latents" in run.summary() and run.direction is run.direction  # a run, not a bare direction
    run.save(tmp_path / "notebook")
    res = CliRunner().invoke(main, ["discover", "--transform", "shift-x", "--trajectories", "8", "--steps", "2",
                                    "--max-iters", "3", "--device", "cpu", "-o", str(tmp_path / "cli")])  # fmt: skip
    assert res.exit_code == 0, res.output
    a, b = tmp_path / "notebook", tmp_path / "cli"
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and "trajectories.npz" in names and "traverse.gif" in names
    timing = {"wall_seconds", "trajectory_seconds", "stage_seconds"}
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert {k: v for k, v in ma.items() if k not in timing} == {k: v for k, v in mb.items() if k not in timing}
    assert json.loads((a / "config.json").read_text()) == json.loads((b / "config.json").read_text())
    for name in ("traverse.png", "traverse.gif"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    da, db = (json.loads((d / "direction.json").read_text()) for d in (a, b))
    for d in (da, db):
        d["meta"].pop("trajectory_seconds")
        assert set(d["meta"].pop("stage_seconds")) == {"trajectories", "calibration", "control_check"}
    assert da == db
    ta, tb = load_file(str(a / "direction.safetensors")), load_file(str(b / "direction.safetensors"))
    assert all(torch.equal(ta[k], tb[k]) for k in ("u", "knots", "values"))
    na, nb = np.load(a / "trajectories.npz"), np.load(b / "trajectories.npz")
    assert sorted(na.files) == sorted(nb.files) and "wall_time" in na.files
    assert all(np.array_equal(na[k], nb[k]) for k in na.files if k != "wall_time")


def test_a_meter_registered_from_outside_is_an_attribute_everywhere():
    from latentnav.measure import METER_SPECS, centroid_x, get_meter

    ln.register_meter("toy_right", lambda images: 2 * centroid_x(images), unit="twice the fraction of width")
    try:
        G = PlantedGenerator()
        assert get_meter("toy_right", G).unit == "twice the fraction of width"
        (run,) = compare(G, "toy_right", methods=["sefa"], attributes=["pos_y"], n_eval=8)
        assert torch.dot(run.direction.u, G.u_x).item() > 0.99 and run.direction.transform == "toy_right"
        assert run.evaluation.metrics["steerability"]["r2"] > 0.8
    finally:
        METER_SPECS.pop("toy_right")
