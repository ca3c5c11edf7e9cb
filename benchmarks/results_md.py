"""docs/results.md: every results table of the guides in one place, regenerated from benchmarks/results/ by one command.

    python benchmarks/results_md.py [--check]

Each table is rendered from the JSON its benchmark script wrote, by that script's own table function (the one its
``--update-docs`` uses), so a table here and the same table in its guide come from the same code. A table whose
figures were never kept as JSON is listed with the guide that holds it and the command that would make its JSON.
Nothing is measured: the script only reads JSON (a few seconds, most of it importing torch).

Then each rendered table is compared with the one in its guide (the marked block, or for a table pasted by hand
the table that starts with the same header line) and the result printed: ``same``, ``DIFFERS`` (with the first
line that differs) or ``guide only``. ``--check`` writes nothing and exits 1 when docs/results.md is not what
this script would write.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from readme_table import DOCS, ROOT, find_block  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
OUT = DOCS / "results.md"


def script(name: str):
    """A benchmark script of this folder as a module (its ``main`` does not run)."""
    return importlib.import_module(name)


def load(name: str) -> dict:
    """A JSON file of benchmarks/results/."""
    return json.loads((RESULTS / name).read_text())


@dataclass(frozen=True)
class Table:
    """One results table.

    Attributes:
        title: the section's heading.
        guide: where the table lives in docs/ (``file.md#anchor``); empty for figures a guide quotes in its text.
        what: what the table measures, in a sentence or two.
        command: the command that writes the JSON (and rewrites the guide's table where it has a block), as Markdown.
        jsons: its files in benchmarks/results/; empty: no JSON kept yet.
        render: makes the table from the JSON with the script's own function.
        block: the guide's marked block (``<!-- NAME:start -->``); ``None`` for a table pasted by hand.
    """

    title: str
    guide: str
    what: str
    command: str
    jsons: tuple[str, ...] = ()
    render: Callable[[], str] | None = None
    block: str | None = None


TABLES = (
    # ------------------------------------------------------------------------------------------- testbed.md
    Table("Control of discovered directions against the oracle", "testbed.md#control-on-the-testbed-discovered-directions-against-the-oracle",
          "Trajectory directions (seed 0, default settings) on two beta-VAEs, moved on 50 fresh latents by 7 requested t "
          "in [-0.15, 0.15] and read back from the pixels, beside the model's best single latent (the oracle): "
          "R^2, slope, spread, leakage, absolute mode, blank images, cost, and the targets of the trajectory issue.",
          "`python benchmarks/control.py --models bvae-dsprites,bvae-dsprites-b1 --transforms shift-x,shift-y,zoom,zoom-object "
          "--threads 1 --json benchmarks/results/control.json --update-docs`",
          ("control.json",), lambda: script("control").table(load("control.json")), "control-table"),
    Table("Direction fields against the straight direction", "discover.md#direction-fields",
          "Linear and kernel fields fitted to the trajectories' tangents (dz/dt), integrated by RK4, beside the straight "
          "direction, the model's best single axis and the ceiling (trajectories optimised from the fresh latents "
          "themselves), on 100 fresh latents moved by 7 requested t in [-0.15, 0.15]; the targets of issue 27.",
          "`python benchmarks/field_control.py --json benchmarks/results/field_control.json --update-docs`",
          ("field_control.json",), lambda: script("field_control").table(load("field_control.json")), "field-table"),
    Table("Disentanglement of the shipped testbed models", "testbed.md#disentanglement-of-the-shipped-testbed-models",
          "BetaVAE, FactorVAE, MIG, SAP, DCI and total correlation of each model's codes (encoder means or InfoGAN's Q "
          "read-out) on renders of the dSprites grid, `--preset fast` (5-20x fewer samples than "
          "disentanglement_lib's), seed 0.",
          "`python benchmarks/disentanglement_table.py --preset fast --update-docs` (the three beta-VAEs), then the "
          "same with `--merge` and `--models tcvae-dsprites`, `--models infogan-dsprites,cmivae-colour` and "
          "`--models infogan-colour`",
          ("disentanglement.json",),
          lambda: script("disentanglement_table").metrics_markdown(load("disentanglement.json")["models"]),
          "disentanglement-table"),
    Table("Trained codes against discovered directions", "testbed.md#information-theoretic-generators-beta-tcvae-two-code-vae-style-based-infogan",
          "Per model: total correlation, code information, realism (k-NN precision / recall against renders, grey "
          "pixels), the two-code VAE's swap; per factor: the best code of each trained model used as a direction, "
          "evaluated as discovered directions are, beside the best discovered direction on `bvae-dsprites-b4` "
          "(from compare.json).",
          "`python benchmarks/code_table.py --update-docs`, then the same with `--models infogan-colour --merge`",
          ("code_table.json",), lambda: script("code_table").tables(load("code_table.json")), "code-table"),
    # ------------------------------------------------------------------------------------------ evaluate.md
    Table("Four methods on one beta-VAE", "evaluate.md#evaluating-and-comparing-directions",
          "`latentnav.evaluate.compare` with its defaults on `bvae-dsprites-b4` for pos_x, pos_y and scale: the "
          "trajectory method, GANSpace, SeFa and InterFaceGAN, each picked and calibrated, evaluated on the same 50 "
          "fresh latents; generator evaluations and wall seconds.",
          "`python benchmarks/compare_table.py --update-docs`",
          ("compare.json",),
          lambda: script("compare_table").markdown(script("compare_table").rows_from_json(load("compare.json"))),
          "compare-table"),
    # ------------------------------------------------------------------------------------------- correct.md
    Table("The corrector on every method, rho 0.8", "correct.md#every-method-on-the-correlated-models",
          "Each method's x direction on `bvae-dsprites-corr` corrected against y (500 low-density samples): leakage "
          "(|y per unit x|, 5-95% bootstrap interval) of base, projection and corrected direction on 5,000 fresh "
          "latents, the same method on the unbiased `bvae-dsprites-b4`, x change per unit step, the issue's targets.",
          "`python benchmarks/correct_table.py --update-docs`",
          ("correct.json",), lambda: script("correct_table").table(load("correct.json")), "correct-table"),
    Table("The corrector's --keep sweep (Adam re-fit)", "correct.md#every-method-on-the-correlated-models",
          "On `bvae-dsprites-corr`, the same scored and re-projected latents re-fitted (Adam) at each `--keep`, each "
          "direction on 1,000 fresh latents (share of the base's x change per step: leakage); the least leakage of "
          "any unit direction keeping 80% (SLSQP, 8 starts) and the first-order y-free bound.",
          "`python benchmarks/correct_frontier.py --fit-optimizer adam --json benchmarks/results/correct_frontier-adam.json "
          "--update-docs`",
          ("correct_frontier-adam.json",),
          lambda: script("correct_frontier").table(load("correct_frontier-adam.json")), "correct-frontier"),
    Table("Where the wall comes from: predicted against measured share", "correct.md#every-method-on-the-correlated-models",
          "The share of the base's x change per step a y-free direction keeps in an idealised VAE, R(L), from the "
          "corrector's scored x-y correlation and the base's leakage alone, beside the corrector's measured share; "
          "and the base leakage that still allows 80%. Reads the two corrector tables' JSON.",
          "`python benchmarks/correct_geometry.py --update-docs`",
          ("correct.json", "correct-corr06.json"),
          lambda: script("correct_geometry").table([load("correct.json"), load("correct-corr06.json")]),
          "correct-geometry"),
    Table("The corrector on every method, rho 0.6", "correct.md#every-method-on-the-correlated-models",
          "As the rho 0.8 table, on `bvae-dsprites-corr06` (x-y correlation 0.6).",
          "`python benchmarks/correct_table.py --model bvae-dsprites-corr06 --json benchmarks/results/correct-corr06.json "
          "--block correct-table-corr06 --update-docs` (run as two processes with `--merge`)",
          ("correct-corr06.json",), lambda: script("correct_table").table(load("correct-corr06.json")),
          "correct-table-corr06"),
    Table("The corrector at rho 0.6 asked to keep 80%", "correct.md#every-method-on-the-correlated-models",
          "As the rho 0.6 table, with `--keep 0.8`.",
          "`python benchmarks/correct_table.py --model bvae-dsprites-corr06 --keep 0.8 --json "
          "benchmarks/results/correct-corr06-keep08.json --block correct-table-corr06-keep08 --update-docs` "
          "(run as two processes with `--merge`)",
          ("correct-corr06-keep08.json",), lambda: script("correct_table").table(load("correct-corr06-keep08.json")),
          "correct-table-corr06-keep08"),
    Table("Both re-fits side by side", "correct.md#both-re-fits-side-by-side",
          "The corrected direction's leakage and share of the base's x change per step with the Adam re-fit and with "
          "SLSQP (the default), on both correlated models. Reads the corrector tables' JSON and their Adam twins.",
          "`python benchmarks/correct_optimizers.py --update-docs`, after `python benchmarks/correct_table.py "
          "--fit-optimizer adam --json benchmarks/results/correct-adam.json` and the same with `--model "
          "bvae-dsprites-corr06 --json benchmarks/results/correct-corr06-adam.json`",
          ("correct.json", "correct-adam.json", "correct-corr06.json", "correct-corr06-adam.json"),
          lambda: script("correct_optimizers").table(RESULTS), "correct-optimizers"),
    Table("The corrector on a real GAN: brightness on dcgan-digiface", "correct.md#a-real-gan-brightness-on-dcgan-digiface",
          "The discovered brightness direction, its InterFaceGAN projection and the two corrected directions (held: y "
          "and hue) on 5,000 fresh latents, with the re-fit objective's terms on the scored latents.",
          "`python benchmarks/correct_dcgan.py --eval-n 5000 --update-docs` (after the three commands of correct.md)",
          ("dcgan-correct.json",), lambda: script("correct_dcgan").table(load("dcgan-correct.json")), "dcgan-correct"),
    Table("The corrector's targets at its defaults", "correct.md#defaults-time-and-how-a-correction-is-judged",
          "Each method's x direction corrected against y on both correlated models at the defaults, judged in the "
          "attribute's units on 500 fresh latents: y and scale per unit x, slope and R^2, latent distance, lost images, "
          "moves beyond the prior, seconds, and issue 25's targets.",
          "`python benchmarks/correct_targets.py --update-docs`",
          ("correct_targets.json",), lambda: script("correct_targets").table(load("correct_targets.json")["results"]),
          "correct-targets"),
    Table("The ceiling of a straight direction's R^2 at each leakage", "correct.md#the-ceiling-the-best-r2-a-straight-direction-reaches-at-each-leakage",
          "The best calibrated R^2 any straight direction reaches at each cap on |y per unit x| (scale free), found by "
          "a grid over the active latents and Nelder-Mead, judged as the corrector judges.",
          "`python benchmarks/correct_ceiling.py --update-docs`",
          ("correct_ceiling.json",), lambda: script("correct_ceiling").table(load("correct_ceiling.json")["results"]),
          "correct-ceiling"),
    Table("The same ceiling with the scale held", "correct.md#the-ceiling-the-best-r2-a-straight-direction-reaches-at-each-leakage",
          "As above with |scale per unit x| <= 0.25, refined on 400 latents from the first search's grid.",
          "`python benchmarks/correct_ceiling.py --scale-cap 0.25 --caps 0.01,0.03,0.1 --fit-n 400 --grid-from "
          "benchmarks/results/correct_ceiling.json --json benchmarks/results/correct_ceiling_held.json --block "
          "correct-ceiling-held --plot /tmp/held.png --update-docs`",
          ("correct_ceiling_held.json",),
          lambda: script("correct_ceiling").table(load("correct_ceiling_held.json")["results"]), "correct-ceiling-held"),
    Table("How long latentnav correct takes, stage by stage", "correct.md#defaults-time-and-how-a-correction-is-judged",
          "Wall and CPU seconds of each stage of `latentnav correct` at its defaults on `bvae-dsprites-corr` "
          "(InterFaceGAN's x direction, against y); the table in correct.md is copied from its output.",
          "`python benchmarks/correct_speed.py`, which writes `benchmarks/results/correct_speed.json`",
          ("correct_speed.json",)),
    # -------------------------------------------------------------------------------------------- models.md
    Table("The shipped beta-VAEs", "models.md#the-shipped-testbed-models",
          "Reconstruction and KL (nats per image, 5,000 fresh renders), blank prior samples, the prior's x-y "
          "correlation, and the best single latent's |Spearman r| with each factor.",
          "`python benchmarks/model_table.py --json benchmarks/results/model_table.json` (`bvae-dsprites-corr06` "
          "added with `--models bvae-dsprites-corr06 --merge`)",
          ("model_table.json",), lambda: script("model_table").table(load("model_table.json"))),
    Table("The beta-TCVAE", "models.md#the-shipped-testbed-models",
          "The model table's row for `tcvae-dsprites`.",
          "`python benchmarks/model_table.py --models tcvae-dsprites --json benchmarks/results/model_table.json --merge`"),
    Table("Discovery on dcgan-digiface", "models.md#a-real-pretrained-gan-dcgan-digiface",
          "Trajectory directions for shift-x, zoom and brightness (32 trajectories), moved on 24 fresh latents and "
          "read by independent meters: R^2 / slope on growing ranges of t, the largest range with R^2 >= 0.8.",
          "`python benchmarks/dcgan_control.py --update-docs`",
          ("dcgan-digiface.json",), lambda: script("dcgan_control").table(load("dcgan-digiface.json")["results"]),
          "dcgan-table"),
    Table("BigGAN-deep-128 speed and memory", "models.md#biggan-deep-imagenet-128256512",
          "Images per second of the full 128 model (random weights, 2 CPU threads) for a forward pass and for forward "
          "+ backward to z, and the peak memory each adds to the loaded process.",
          "`python benchmarks/biggan_speed.py --json benchmarks/results/biggan-speed.json`",
          ("biggan-speed.json",), lambda: script("biggan_speed").markdown(load("biggan-speed.json"))),
    Table("StyleGAN2 conformance with NVlabs", "models.md#stylegan2-ffhq-lsun-afhq-metfaces-your-own",
          "Max |latentnav - NVlabs| of every output of the reference fixture, loaded through each file format.",
          "`python benchmarks/stylegan2_conformance.py`, which prints the table and keeps no JSON"),
    Table("StyleGAN2 speed and memory", "models.md#stylegan2-ffhq-lsun-afhq-metfaces-your-own",
          "Images per second of config-f at 256 and 1024 px (random weights, 2 CPU threads) for a forward pass and "
          "for forward + backward to w, and the peak resident memory.",
          "`OMP_NUM_THREADS=2 python benchmarks/stylegan2_speed.py`",
          ("stylegan2-speed.json",), lambda: script("stylegan2_speed").markdown(load("stylegan2-speed.json"))),
    # ------------------------------------------------------------------------------------------- methods.md
    Table("SeFa's speed", "methods.md#sefas-speed",
          "SeFa's time for all directions (random weights, 1 thread): first call, best of 5, and the factorisation "
          "alone.",
          "`python benchmarks/sefa_speed.py --json benchmarks/results/sefa-speed.json`",
          ("sefa-speed.json",), lambda: script("sefa_speed").table(load("sefa-speed.json"))),
    # --------------------------------------------------------------------------------------- distributed.md
    Table("Two processes against one", "distributed.md",
          "Trajectory discovery (64 trajectories) and GANSpace sampling (50,000 samples) on `bvae-dsprites` with 1 "
          "and 2 gloo processes of one thread: wall and busiest-rank CPU seconds, speed-ups, and the cosine of the "
          "directions with the single process's.",
          "`python benchmarks/distributed_speed.py --repeats 3 --json benchmarks/results/distributed-speed.json`",
          ("distributed-speed.json",), lambda: script("distributed_speed").table(load("distributed-speed.json")),
          "distributed-table"),
    # ------------------------------------------------------------------------------------------ benchmarks.md
    Table("Speed figures", "benchmarks.md#speed",
          "Renderer throughput, one trajectory-optimiser iteration against a bare forward + backward, a whole "
          "discovery, SeFa, and two processes against one.",
          "`python benchmarks/render_speed.py`, `python benchmarks/trajectory_cost.py`, `latentnav discover --model "
          "bvae-dsprites --transform shift-x -o runs/shift-x`, `python benchmarks/sefa_speed.py`, `python "
          "benchmarks/distributed_speed.py --repeats 3`; only the last two keep JSON, in the sections above"),
    Table("Memory of latentnav sample", "benchmarks.md#memory-of-latentnav-sample",
          "Peak memory and wall time of `latentnav sample` for 1,000 to 100,000 images and the largest grid.",
          "`python benchmarks/sample_memory.py --update-docs`, which writes `benchmarks/results/sample_memory.json`",
          ("sample_memory.json",), None, "sample-memory-table"),
    Table("Explorer latency", "benchmarks.md#explorer-latency",
          "From a slider's new value to the new image in `latentnav explore` (default `--threads 1`): p50 / p90 of 200 "
          "requests on `bvae-dsprites` and `dcgan-digiface`, to the decoded PNG over HTTP and to the image shown in "
          "chromium, beside one bare forward.",
          "`python benchmarks/explore_latency.py --browser --update-docs`, which writes "
          "`benchmarks/results/explore_latency.json`",
          ("explore_latency.json",), lambda: script("explore_latency").table(load("explore_latency.json")),
          "explore-latency-table"),
    Table("Where users wait", "benchmarks.md#where-users-wait",
          "Wall time, CPU time and peak memory of the main job, `evaluate-model` (fast, default, forest DCI) and "
          "`compare`, split by the stages each command records, with the figures they produced.",
          "`python benchmarks/speed.py --update-docs`, which writes `benchmarks/results/speed.json`",
          ("speed.json",), None, "speed-table"),
    Table("evaluate-model's values from seed to seed", "benchmarks.md#where-users-wait",
          "Each metric of `latentnav evaluate-model --preset fast` on `bvae-dsprites-b4` for seeds 0-4: the spread a "
          "change of preset is judged against.",
          "`python benchmarks/preset_spread.py --seeds 0-4 --update-docs`, which writes "
          "`benchmarks/results/preset_spread.json`",
          ("preset_spread.json",), lambda: script("preset_spread").table(load("preset_spread.json")), "preset-spread"),
    Table("The floor under evaluate-model's default preset", "benchmarks.md#where-users-wait",
          "Images per second of rendering and encoding dSprites combinations on `bvae-dsprites-b4` (the code "
          "`evaluate-model` runs, and the encoder network alone), and what the 723,583 combinations the default preset "
          "touches cost at the fastest rates, against the 60 s the issue allows everything but DCI.",
          "`python benchmarks/encode_floor.py --update-docs`, which writes `benchmarks/results/encode_floor.json`",
          ("encode_floor.json",), lambda: script("encode_floor").table(load("encode_floor.json")), "encode-floor"),
    # ------------------------------------------------------------------------- figures quoted in the text
    Table("The Adam re-fit's seed spread", "",
          "The trajectory direction on `bvae-dsprites-corr` re-fitted (Adam) from the same latents with three fit seeds "
          "at `--keep` 0.6 and 0.7, on 1,000 fresh latents ([correct.md](correct.md#every-method-on-the-correlated-models) "
          "quotes these figures in its text).",
          "`python benchmarks/correct_seeds.py`",
          ("correct_seeds.json",), lambda: script("correct_seeds").table(load("correct_seeds.json"))),
    Table("What SLSQP's later iterations buy", "",
          "GANSpace's direction on `bvae-dsprites-corr06` with `--keep 0.8`: SLSQP iterates after 5, 10, 20 and 30 "
          "iterations on 2,000 fresh latents ([correct.md](correct.md) quotes these figures in its first section).",
          "`python benchmarks/slsqp_iterations.py`",
          ("slsqp_iterations.json",), lambda: script("slsqp_iterations").table(load("slsqp_iterations.json"))),
    Table("The default SLSQP re-fit at --keep 0.8, rho 0.8", "",
          "The trajectory direction on `bvae-dsprites-corr` re-fitted by SLSQP with `--keep 0.8` "
          "([correct.md](correct.md#every-method-on-the-correlated-models) quotes it below the sweep).",
          "`python benchmarks/correct_frontier.py --methods trajectory --keeps 0.8 --starts 0 --json "
          "benchmarks/results/correct_frontier-slsqp-keep08.json`",
          ("correct_frontier-slsqp-keep08.json",),
          lambda: script("correct_frontier").table(load("correct_frontier-slsqp-keep08.json"))),
    Table("The trajectory direction's Adam sweep at rho 0.6", "",
          "The `--keep` sweep of the trajectory direction on `bvae-dsprites-corr06` with the Adam re-fit "
          "([correct.md](correct.md#both-re-fits-side-by-side) quotes it).",
          "`python benchmarks/correct_frontier.py --model bvae-dsprites-corr06 --methods trajectory --keeps 0.5,0.7,0.8,0.9 "
          "--fit-optimizer adam --json benchmarks/results/correct_frontier-corr06-trajectory.json`",
          ("correct_frontier-corr06-trajectory.json",),
          lambda: script("correct_frontier").table(load("correct_frontier-corr06-trajectory.json"))),
)

#: files of benchmarks/results/ that hold no table, and why
OTHER_FILES = {
    "cmivae-colour-*.log.jsonl": "training logs of four `cmivae-colour` runs (loss terms every 100 steps), which "
                                 "[testbed.md](testbed.md#information-theoretic-generators-beta-tcvae-two-code-vae-style-based-infogan) "
                                 "cites for how the shipped model was reached",
}


def has_json(table: Table) -> bool:
    return bool(table.jsons) and table.render is not None and all((RESULTS / name).is_file() for name in table.jsons)


def guide_tables(table: Table, rendered: str) -> list[str]:
    """The guide's version(s) of ``table``: its marked block, or the tables starting with ``rendered``'s header line."""
    if not table.guide:
        return []
    text = (DOCS / table.guide.partition("#")[0]).read_text()
    if table.block is not None:
        i, j = find_block(table.block, text)
        return [text[i:j].strip("\n")]
    lines, header, found = text.splitlines(), rendered.splitlines()[0], []
    for k, line in enumerate(lines):
        if line == header:
            end = k
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            found.append("\n".join(lines[k:end]))
    return found


def compare_with_guide(table: Table, rendered: str) -> str:
    """``same``, or ``DIFFERS`` with the first line that does, or why nothing was compared."""
    if not table.guide:
        return "quoted in a guide's text (no table there)"
    theirs = guide_tables(table, rendered)
    mine = rendered.strip("\n")
    if mine in theirs:
        return "same as the guide's"
    if not theirs:
        return f"DIFFERS: no table with this header in {table.guide.partition('#')[0]}"
    for a, b in zip(mine.splitlines(), theirs[0].splitlines()):
        if a != b:
            return f"DIFFERS from the guide's; first difference:\n    here:  {a}\n    guide: {b}"
    return "DIFFERS from the guide's: not the same number of rows"


def link(guide: str) -> str:
    return f"[{guide.partition('#')[0]}]({guide})"


def section(table: Table) -> tuple[str, str]:
    """The Markdown of one table's section, and how it compares with the guide's."""
    out = [f"## {table.title}", "", table.what, ""]
    where = f"Table in {link(table.guide)}" + (f" (block `{table.block}`)" if table.block else "") if table.guide else ""
    if has_json(table):
        rendered = table.render().strip("\n")
        files = ", ".join(f"`benchmarks/results/{name}`" for name in table.jsons)
        out += [f"Command: {table.command}. JSON: {files}." + (f" {where}." if where else ""), "", rendered, ""]
        return "\n".join(out), compare_with_guide(table, rendered)
    kept = f"table kept in {link(table.guide)}" if table.guide else "no table yet"
    if table.block and table.guide:
        text = (DOCS / table.guide.partition("#")[0]).read_text()
        i, j = find_block(table.block, text)
        kept = kept if text[i:j].strip() else f"no table yet in {link(table.guide)} (its block `{table.block}` is empty)"
    out += [f"{kept[0].upper()}{kept[1:]}; no JSON yet (command: {table.command}).", ""]
    return "\n".join(out), "guide only (no JSON yet)"


def render() -> tuple[str, list[tuple[str, str]]]:
    """The whole page, and each section's comparison with its guide."""
    intro = ("Every results table of the guides, gathered in one page, each with what it measures and the command that "
             "produced its figures. Generated by `python benchmarks/results_md.py` from the JSON files in "
             "`benchmarks/results/`, each table by its benchmark script's own table function, the one that writes the "
             "same table into its guide; do not edit by hand. The settings and the reading of each table are in the "
             "guide that holds it ([benchmarks.md](benchmarks.md#results-tables-and-the-scripts-that-rewrite-them) lists "
             "them all). Tables whose figures were kept only in the guide are listed with the command that would write "
             "their JSON.")  # fmt: skip
    head = ["# Results", "", intro, ""]
    status, body = [], []
    for table in TABLES:
        text, how = section(table)
        body.append(text)
        status.append((table.title, how))
    known = {name for t in TABLES for name in t.jsons}
    other = ["## Files that hold no table", ""] + [f"- `benchmarks/results/{pattern}`: {why}." for pattern, why in OTHER_FILES.items()]
    unlisted = sorted(p.name for p in RESULTS.iterdir() if p.is_file() and p.name not in known
                      and not any(p.match(pattern) for pattern in OTHER_FILES))  # fmt: skip
    other += [f"- `benchmarks/results/{name}`: not yet described here (add it to `benchmarks/results_md.py`)." for name in unlisted]
    for name in unlisted:
        status.append((name, "UNLISTED: a file of benchmarks/results/ that results_md.py does not know"))
    return "\n".join(head + body + other) + "\n", status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if docs/results.md is out of date")
    args = parser.parse_args()
    t0 = time.perf_counter()
    page, status = render()
    for title, how in status:
        print(f"{title}: {how}")
    if args.check:
        fresh = OUT.is_file() and OUT.read_text() == page
        print(f"{OUT.relative_to(ROOT)} is {'up to date' if fresh else 'OUT OF DATE: run python benchmarks/results_md.py'}")
        raise SystemExit(0 if fresh else 1)
    tmp = OUT.with_name(".tmp-" + OUT.name)
    tmp.write_text(page)
    tmp.replace(OUT)
    print(f"wrote {OUT.relative_to(ROOT)} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
