"""``latentnav explore``: the app answers with the pixels ``traverse`` makes, refuses bad requests with JSON, survives a
failing generator; the command checks everything before the model loads and stops cleanly on Ctrl-C; the page works
in a real browser (Debian's chromium, driven by Playwright)."""

import io
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import latentnav as ln
from latentnav.cli import main
from latentnav.cli.parse import MAX_SEED
from latentnav.directions import Direction, code_direction, traverse
from latentnav.errors import BadInputError
from latentnav.viz import to_uint8

pytest.importorskip("starlette", reason="the explore extra is not installed: pip install 'latentnav[explore]'")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (the dev extra)")

from starlette.testclient import TestClient

from latentnav.explore import explorer, serve
from latentnav.explore.app import make_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
KNOTS = torch.linspace(-3, 3, 7)


def shift(model: str = "bvae-dsprites", space: str = "z") -> Direction:
    """A calibrated direction made by hand: axis 1 of z, g(a) = 0.1 a + 0.01 a^3 (t from -0.57 to 0.57)."""
    u = torch.zeros(10)
    u[1] = 1.0
    meta = {"fit_r2": 0.97, "control": {"r2": 0.95, "slope": 0.9, "n_latents": 32}, "calibration_r2": 0.99}
    return Direction(u, KNOTS.clone(), 0.1 * KNOTS + 0.01 * KNOTS**3, space=space, model=model, transform="shift-x",
                     meta=meta)  # fmt: skip


@pytest.fixture
def client(bvae):
    return TestClient(make_app(bvae, {"shift": shift(), "z0": code_direction(bvae, "z0")}))


def decoded(response) -> np.ndarray:
    """A PNG response's pixels [H, W] (one-channel model)."""
    assert response.status_code == 200 and response.headers["content-type"] == "image/png", response.text[:200]
    return np.asarray(Image.open(io.BytesIO(response.content)))


def pixels(images: torch.Tensor) -> np.ndarray:
    """What the app sends for images [1, 1, H, W]: the project's one conversion to uint8."""
    return to_uint8(images)[0, ..., 0]


# ------------------------------------------------------------------------------------------------ the app
def test_the_image_of_a_seed_is_its_sample_and_differs_across_seeds(client, bvae):
    a, b = (decoded(client.get(f"/api/image?seed={s}")) for s in (3, 4))
    assert a.shape == (64, 64) and a.dtype == np.uint8
    with torch.no_grad():
        assert np.array_equal(a, pixels(bvae(bvae.sample_latent([3]))))
    assert np.abs(a.astype(int) - b).mean() > 1  # another seed, another image


@pytest.mark.parametrize("mode", ["relative", "absolute"])
def test_moves_give_exactly_the_pixels_traverse_gives(client, bvae, mode):
    z = bvae.sample_latent([7])
    start = decoded(client.get("/api/image?seed=7"))
    for t in (-0.3, 0.25):
        got = decoded(client.get(f"/api/image?seed=7&mode={mode}&shift={t}"))
        assert np.array_equal(got, pixels(traverse(bvae, shift(), z, t=[t], mode=mode)[0]))
        assert np.abs(got.astype(int) - start).sum() > 0  # the move changes the picture
    got = decoded(client.get("/api/image?seed=7&z0=-1.5"))  # a raw vector: alpha, raw steps along u
    assert np.array_equal(got, pixels(traverse(bvae, code_direction(bvae, "z0"), z, alpha=[-1.5])[0]))
    assert np.array_equal(decoded(client.get("/api/image?seed=7&mode=relative&shift=0&z0=0")), start)


def test_two_sliders_move_one_after_the_other(client, bvae):
    z = bvae.sample_latent([2])
    moved = code_direction(bvae, "z0").step(shift().move(z, 0.2, "relative"), 1.0)
    with torch.no_grad():
        assert np.array_equal(decoded(client.get("/api/image?seed=2&shift=0.2&z0=1")), pixels(bvae(moved)))


def test_bad_requests_get_json_errors_with_their_status(client):
    cases = {"seed=1&shift=0.8": (400, "shift: t=0.8 is out of its range [-0.57, 0.57]"),
             "seed=1&z0=9": (400, "z0: alpha=9 is out of its range"),
             "seed=1&shift=left": (400, "shift: t must be a number, got 'left'"),
             "seed=1&shift=nan": (400, "out of its range"),
             "seed=1&nope=0.1": (404, "unknown direction 'nope'; known: shift, z0"),
             "seed=abc": (400, f"seed must be an integer from 0 to {MAX_SEED}, got 'abc'"),
             "seed=-1": (400, "seed must be an integer"), "seed=1.5": (400, "seed must be an integer"),
             f"seed={MAX_SEED + 1}": (400, "seed must be an integer"), "seed=" + "9" * 5000: (400, "seed must be"),
             "shift=0.1": (400, "missing parameter seed"), "seed=1&seed=2": (400, "'seed' is given 2 times"),
             "seed=1&mode=sideways": (400, "mode must be relative or absolute, got 'sideways'")}  # fmt: skip
    for query, (status, needle) in cases.items():
        response = client.get("/api/image?" + query)
        assert response.status_code == status and response.headers["content-type"] == "application/json", query
        assert needle in response.json()["error"], (query, response.json())
    assert client.get("/api/factors?seed=x").status_code == 400
    assert decoded(client.get(f"/api/image?seed={MAX_SEED}&shift=0.57")).shape == (64, 64)  # the ends are allowed


def test_a_generator_that_raises_answers_500_and_the_next_request_works(client, bvae, monkeypatch):
    expected = pixels(traverse(bvae, shift(), bvae.sample_latent([5]), t=[0.1])[0])
    calls = []
    real = bvae._synthesize

    def flaky(latent, space):
        calls.append(len(latent))
        if len(calls) == 1:
            raise RuntimeError("out of memory\nsecond line")
        return real(latent, space)

    monkeypatch.setattr(bvae, "_synthesize", flaky)
    failed = client.get("/api/image?seed=5&shift=0.1")
    assert failed.status_code == 500 and failed.json() == {"error": "the generator failed: RuntimeError: out of memory"}
    assert np.array_equal(decoded(client.get("/api/image?seed=5&shift=0.1")), expected)
    assert calls == [1, 1]


def test_info_gives_each_slider_its_units_range_and_figures(client):
    info = client.get("/api/info").json()
    assert (info["model"], info["space"], info["max_seed"], info["public"]) == ("bvae-dsprites", "z", MAX_SEED, False)
    s, z0 = info["sliders"]
    assert (s["name"], s["unit"], s["meaning"], s["moves"]) == ("shift", "t", "fraction of width", "shift-x")
    assert s["lo"] == pytest.approx(-0.57) and s["hi"] == pytest.approx(0.57)  # the calibration's range of t
    figures = dict(s["figures"])
    assert figures["fit R^2"] == "0.970" and figures["calibration R^2"] == "0.990"
    assert figures["control"] == "R^2 0.950, slope 0.90 on 32 fresh latents"
    assert (z0["unit"], z0["moves"], dict(z0["figures"])["code"]) == ("alpha", "raw vector", "z0")
    assert 2.7 < z0["hi"] == -z0["lo"] < 3.3  # a standard normal's projection: about 3 standard deviations


def test_the_range_of_t_stays_within_the_transform_and_factors_say_where_a_seed_sits(bvae, client):
    wide = Direction(shift().u, KNOTS.clone(), 0.5 * KNOTS, model="bvae-dsprites", transform="shift-x")
    slider = explorer.make_slider(bvae, "wide", wide)
    assert (slider.lo, slider.hi) == (-0.999, 0.999)  # shift-x's documented range, inside g's -1.5 .. 1.5
    got = client.get("/api/factors?seed=9").json()
    z = bvae.sample_latent([9])
    assert got["seed"] == 9 and got["values"]["z0"] == pytest.approx(float(z[0, 0]), abs=1e-6)
    assert got["values"]["shift"] == pytest.approx(float(shift().t_of(z[0, 1])), abs=1e-6)


def test_directions_are_named_once_and_kept_in_one_space(bvae):
    paths = ["runs/shift-x/direction.safetensors", "b/shift-x.npy", "seed.npy", "c/shift-x.pt", "direction.safetensors"]
    assert explorer.direction_names(paths) == ["shift-x", "shift-x-2", "seed-2", "shift-x-3", "direction"]
    with pytest.raises(BadInputError, match=r"different latent spaces \(w, z\)"):
        explorer.latent_space([shift(), shift(space="w")])
    with pytest.raises(BadInputError, match="may not be called 'mode'"):
        make_app(bvae, {"mode": shift()})
    with pytest.raises(ln.LatentnavError, match="made for model 'other'"):
        make_app(bvae, {"x": shift(model="other")})
    assert explorer.MAX_SEED == MAX_SEED


def test_without_directions_the_page_shows_the_seed(bvae):
    client = TestClient(make_app(bvae, {}))
    assert client.get("/api/info").json()["sliders"] == []
    assert "<script>" in client.get("/").text and client.get("/").headers["content-type"].startswith("text/html")
    assert decoded(client.get("/api/image?seed=0")).shape == (64, 64)
    assert "known: none" in client.get("/api/image?seed=0&shift=0.1").json()["error"]


# ------------------------------------------------------------------------------------------------ the command
@pytest.fixture
def loads(monkeypatch):
    """The models the command loaded (none, when it refused first); serving is replaced by a record of the app."""
    from latentnav.generators import registry

    loaded, served = [], []
    real = registry.load_generator
    monkeypatch.setattr(registry, "load_generator", lambda name, **kw: loaded.append(name) or real(name, **kw))
    monkeypatch.setattr(serve, "serve", lambda app, sock: served.append((app, serve.url(sock))) or "Ctrl-C")
    return loaded, served


def test_the_command_refuses_bad_usage_before_the_model_loads(loads, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    bad = {("--port", "70000"): "'--port': 70000 is not in the range 0<=x<=65535",
           ("--direction", str(tmp_path / "missing.safetensors")): "does not exist",
           ("--model", "no-such-model"): "unknown model 'no-such-model'; known: ",
           ("--host", "no-such-host.invalid"): "--host 'no-such-host.invalid' is not an address",
           ("--port", str(busy.getsockname()[1])): f"cannot listen on 127.0.0.1:{busy.getsockname()[1]}"}  # fmt: skip
    shift().save(tmp_path / "z.safetensors")
    shift(space="w").save(tmp_path / "w.safetensors")
    shift(model="dcgan-digiface").save(tmp_path / "faces.safetensors")
    bad[("--direction", str(tmp_path / "faces.safetensors"))] = "direction faces was made for model 'dcgan-digiface'"
    both = ("--direction", str(tmp_path / "z.safetensors"), "--direction", str(tmp_path / "w.safetensors"))
    bad[both] = "spaces (w, z)"
    with busy:
        for args, needle in bad.items():
            res = CliRunner().invoke(main, ["explore", *args])
            assert res.exit_code == 2 and needle in res.stderr and res.stderr.count("\n") == 1, (args, res.stderr)
            assert res.stderr.startswith("error: ")
    assert loads == ([], [])


def test_the_command_names_the_missing_extra(loads, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    res = CliRunner().invoke(main, ["explore"])
    assert res.exit_code == 2
    assert res.stderr == "error: latentnav explore needs the explore extra: pip install 'latentnav[explore]'\n"


def test_the_command_serves_locally_and_warns_when_asked_to_serve_the_network(loads, tmp_path):
    shift().save(tmp_path / "runs" / "shift-x" / "direction.safetensors")
    loaded, served = loads
    res = CliRunner().invoke(main, ["explore", "--device", "cpu", "--port", "0", "--direction",
                                    str(tmp_path / "runs" / "shift-x" / "direction.safetensors")])  # fmt: skip
    assert res.exit_code == 0 and res.stderr == "", res.output
    ((app, url),) = served
    assert res.stdout == f"latentnav explore: {url} (bvae-dsprites, 1 direction; Ctrl-C stops it)\nstopped (Ctrl-C)\n"
    assert url.startswith("http://127.0.0.1:") and loaded == ["bvae-dsprites"]
    assert TestClient(app).get("/api/info").json()["public"] is False
    assert [s["name"] for s in TestClient(app).get("/api/info").json()["sliders"]] == ["shift-x"]
    res = CliRunner().invoke(main, ["explore", "--device", "cpu", "--port", "0", "--host", "0.0.0.0"])
    assert res.exit_code == 0, res.output
    assert res.stderr.startswith("warning: listening on 0.0.0.0, beyond this machine: the page has no authentication")
    assert served[1][1].startswith("http://0.0.0.0:") and TestClient(served[1][0]).get("/api/info").json()["public"]


def test_ctrl_c_stops_the_server_cleanly(tmp_path):
    shift().save(tmp_path / "shift.safetensors")
    cmd = [sys.executable, "-m", "latentnav", "explore", "--device", "cpu", "--port", "0", "--direction",
           str(tmp_path / "shift.safetensors")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        address = line.split()[2]
        import httpx

        response = httpx.get(address + "api/image", params={"seed": 1, "shift": 0.2}, timeout=30)
        assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (0, "stopped (Ctrl-C)\n", ""), (line, out, err)


# ------------------------------------------------------------------------------------------------ the page
CANVAS = """(id) => { const img = document.getElementById(id), c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight; const ctx = c.getContext("2d"); ctx.drawImage(img, 0, 0);
  return Array.from(ctx.getImageData(0, 0, c.width, c.height).data); }"""


def shown(page, element: str = "image") -> np.ndarray:
    """The pixels an <img> shows, read back through a canvas: [H, W] (the red channel of a grey image)."""
    rgba = np.array(page.evaluate(CANVAS, element), dtype=np.uint8).reshape(64, 64, 4)
    return rgba[..., 0]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (Debian: apt-get install chromium)")
def test_the_page_in_a_real_browser(bvae, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    z = bvae.sample_latent([0])
    app = make_app(bvae, {"shift": shift(), "z0": code_direction(bvae, "z0")})
    with serve.background(app) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(url)
            page.wait_for_selector('#image[data-request="seed=0&mode=relative&shift=0&z0=0"]')
            start = shown(page)
            with torch.no_grad():
                assert np.array_equal(start, pixels(bvae(z)))
            assert "fit R^2" in page.inner_text("#sliders") and page.is_hidden("#banner")
            _move_the_slider(page, bvae, z, start)
            page.fill("#seed", "abc")  # a seed that is not an integer: the server says so, the page shows it
            page.wait_for_selector("#error:not([hidden])")
            assert "seed must be an integer" in page.inner_text("#error")
            shot = page.screenshot(path=tmp_path / "explore.png", full_page=True)
            page.route("**/api/info", _served_publicly)  # as make_app(..., public=True) answers
            page.reload()
            page.wait_for_selector("#banner:not([hidden])")
            assert "has no authentication" in page.inner_text("#banner")
        finally:
            browser.close()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "explore.png").stat().st_size == len(shot) > 5000
    assert Image.open(tmp_path / "explore.png").size[0] >= 1100


def _served_publicly(route) -> None:
    response = route.fetch()
    route.fulfill(response=response, json={**response.json(), "public": True})


def _move_the_slider(page, bvae, z, start) -> None:
    """Set the shift slider as a script would (value, input event), then drag it with the mouse: the image follows."""
    script = "(el) => { el.value = 0.3; el.dispatchEvent(new Event('input')); }"
    page.eval_on_selector('input[data-name="shift"]', script)
    page.wait_for_selector('#image[data-request="seed=0&mode=relative&shift=0.3&z0=0"]')
    moved = shown(page)
    assert np.array_equal(moved, pixels(traverse(bvae, shift(), z, t=[0.3])[0])) and not np.array_equal(moved, start)
    box = page.locator('input[data-name="shift"]').bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    for k in range(1, 6):
        page.mouse.move(box["x"] + box["width"] * (0.5 - 0.08 * k), y)
    page.mouse.up()
    value = page.eval_on_selector('input[data-name="shift"]', "(el) => el.value")
    assert float(value) < -0.2  # dragged to the left
    page.wait_for_selector(f'#image[data-request="seed=0&mode=relative&shift={value}&z0=0"]')
    assert np.array_equal(shown(page), pixels(traverse(bvae, shift(), z, t=[float(value)])[0]))
    assert page.inner_text("#status").startswith("last image: ") and page.inner_text("#status").endswith(" ms")
