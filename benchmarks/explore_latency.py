"""Latency of ``latentnav explore``: from a slider's new value to the new image, on bvae-dsprites and dcgan-digiface.

    python benchmarks/explore_latency.py [--models bvae-dsprites,dcgan-digiface] [--n 200] [--browser]
        [--json benchmarks/results/explore_latency.json] [--update-docs] [--screenshot docs/images/explore.png]

For each model: a calibrated shift-x direction from a short discovery (``ln.discover`` with 8 trajectories, 2 steps,
3 iterations: its quality does not matter here, only that it is a real calibrated direction with its figures),
saved and served by the real command (``latentnav explore --port 0 --direction FILE``, a process of its own, as a
user starts it). Then ``n`` sequential image requests with t changing each time (a sweep across the slider's
range, back and forth, as a drag sends them), each timed from sending the request to the PNG decoded (HTTP round
trip over one kept-alive connection, as a browser does); the first 10 are a warm-up and are not counted. Also the
bare generator forward of one latent in this process (the floor), and with ``--browser`` the same sweep inside
Debian's chromium (Playwright): the slider set, its ``input`` event dispatched, until the page shows the decoded
image (the page's own ``data-request`` marker). ``--screenshot`` saves the page after the sweep (bvae-dsprites).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

DOC = DOCS / "benchmarks.md"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
WARMUP = 10
#: the quick discovery's settings (a real calibrated direction, made in seconds)
QUICK = {"n_trajectories": 8, "n_steps": 2, "max_iters": 3}


def direction_file(model: str, folder: Path) -> Path:
    """A calibrated shift-x direction of ``model`` from a quick discovery, saved in ``folder``."""
    import latentnav as ln

    G = ln.load_generator(model, device="cpu")
    run = ln.discover(G, "shift-x", progress=False, **QUICK)
    return run.direction.save(folder / model / "shift-x.safetensors")


def forward_ms(model: str, threads: int, repeats: int = 30) -> float:
    """Median time of one generator forward of one latent (no grad), in this process with ``threads`` threads."""
    import latentnav as ln

    torch.set_num_threads(threads)
    G = ln.load_generator(model, device="cpu")
    z = G.sample_latent([0])
    times = []
    with torch.inference_mode():
        for k in range(repeats + 3):
            t = time.perf_counter()
            G(z)
            if k >= 3:
                times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def sweep(lo: float, hi: float, n: int) -> list[float]:
    """``n`` values of t going across [lo, hi] and back, as a slider dragged to and fro (no two in a row equal)."""
    one_way = np.linspace(lo, hi, 41)
    path = np.concatenate([one_way, one_way[-2:0:-1]])
    return [round(float(path[k % len(path)]), 6) for k in range(n)]


def http_latencies(address: str, name: str, values: list[float]) -> list[float]:
    """Milliseconds from each request to its decoded PNG, over one kept-alive connection."""
    import httpx
    from PIL import Image

    times = []
    with httpx.Client(base_url=address, timeout=30) as client:
        for t in values:
            began = time.perf_counter()
            response = client.get("/api/image", params={"seed": 0, "mode": "relative", name: t})
            response.raise_for_status()
            Image.open(BytesIO(response.content)).load()
            times.append(1000 * (time.perf_counter() - began))
    return times


BROWSER_SWEEP = """async ([name, values]) => {
  const input = document.querySelector(`input[data-name="${name}"]`), img = document.getElementById("image");
  const times = [];
  for (const v of values) {
    const began = performance.now();
    input.value = v;
    input.dispatchEvent(new Event("input"));
    const want = "seed=0&mode=relative&" + new URLSearchParams({[name]: input.value});
    while (img.dataset.request !== want) await new Promise((r) => setTimeout(r, 1));
    times.push(performance.now() - began);
  }
  return times;
}"""


def browser_latencies(address: str, name: str, values: list[float], screenshot: Path | None) -> list[float]:
    """Milliseconds from setting the slider (and its input event) to the page showing the decoded image."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 400})
            page.goto(address)
            page.wait_for_selector(f'#image[data-request="seed=0&mode=relative&{name}=0"]')
            times = page.evaluate(BROWSER_SWEEP, [name, values])
            if screenshot is not None:
                _pose(page, name)
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
                print(f"wrote {screenshot}")
        finally:
            browser.close()
    return times


def _pose(page, name: str) -> None:
    """The page as the screenshot shows it: seed 3, the slider a little to the right."""
    page.click("#reset")
    page.fill("#seed", "3")
    page.wait_for_selector(f'#image[data-request="seed=3&mode=relative&{name}=0"]')
    script = "(el) => { el.value = 0.15; el.dispatchEvent(new Event('input')); }"
    page.eval_on_selector(f'input[data-name="{name}"]', script)
    page.wait_for_selector(f'#image[data-request="seed=3&mode=relative&{name}=0.15"]')


def summary(times: list[float]) -> dict:
    """p50, p90, mean and max of the timed requests (the warm-up left out), in ms."""
    kept = np.asarray(times[WARMUP:])
    return {"n": int(kept.size), "p50_ms": round(float(np.percentile(kept, 50)), 1),
            "p90_ms": round(float(np.percentile(kept, 90)), 1), "mean_ms": round(float(kept.mean()), 1),
            "max_ms": round(float(kept.max()), 1)}  # fmt: skip


def measure(model: str, folder: Path, n: int, threads: int, browser: bool, screenshot: Path | None) -> dict:
    """One model: its direction file, the command serving it, and the timings."""
    import httpx

    path = direction_file(model, folder)
    cmd = [sys.executable, "-m", "latentnav", "explore", "--model", model, "--device", "cpu", "--port", "0",
           "--threads", str(threads), "--direction", str(path)]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        address = server.stdout.readline().split()[2]
        (slider,) = httpx.get(address + "api/info", timeout=60).json()["sliders"]
        values = sweep(slider["lo"] / 2, slider["hi"] / 2, n + WARMUP)
        row = {"direction": f"shift-x ({slider['lo']:+.3g} .. {slider['hi']:+.3g})", "forward_ms": round(forward_ms(model, threads), 1),
               "http": summary(http_latencies(address, slider["name"], values))}  # fmt: skip
        if browser:
            row["browser"] = summary(browser_latencies(address, slider["name"], values, screenshot))
    finally:
        server.terminate()
        server.wait(30)
    return row


def table(results: dict) -> str:
    """The Markdown table of docs/benchmarks.md."""
    head = ("| model | one forward (ms) | HTTP round trip to decoded PNG: p50 / p90 (ms) | in chromium, slider to shown "
            "image: p50 / p90 (ms) | requests |")  # fmt: skip
    lines = [head, "|---|---|---|---|---|"]
    for model, row in results["models"].items():
        b = row.get("browser")
        shown = f"{b['p50_ms']:.0f} / {b['p90_ms']:.0f}" if b else "-"
        lines.append(f"| `{model}` | {row['forward_ms']:.0f} | {row['http']['p50_ms']:.0f} / {row['http']['p90_ms']:.0f} "
                     f"| {shown} | {row['http']['n']} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="bvae-dsprites,dcgan-digiface")
    parser.add_argument("--n", type=int, default=200, help="timed requests per model (after 10 of warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server (its --threads)")
    parser.add_argument("--browser", action="store_true", help="also time the sweep inside chromium")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the page (first model) as a PNG")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "explore_latency.json")
    add_update_flag(parser, DOC)
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]  # other jobs on the machine (1, 5, 15 minutes)
    torch.set_num_threads(2)  # the quick discoveries
    results = {"torch": torch.__version__, "python": platform.python_version(), "cpus": _cpus(), "threads": args.threads,
               "command": " ".join(["python", "benchmarks/explore_latency.py", *sys.argv[1:]]), "models": {}}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for k, model in enumerate(args.models.split(",")):
            shot = args.screenshot if k == 0 else None
            browser = args.browser or shot is not None
            results["models"][model] = row = measure(model, Path(tmp), args.n, args.threads, browser, shot)
            print(model, row)
    results["load_average"] = {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]}
    write_json(args.json, results)
    print(table(results))
    if args.update_docs:
        update_doc("explore-latency-table", table(results), DOC)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
