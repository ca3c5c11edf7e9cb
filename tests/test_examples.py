import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_walks_the_sprite_across_the_image(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "--out", str(tmp_path / "q.png")],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    r = float(re.search(r"Pearson r = ([+-][0-9.]+)", out).group(1))
    assert abs(r) > 0.9
    xs = [float(v) for v in re.search(r"along the walk: (.*)", out).group(1).split()]
    assert abs(xs[-1] - xs[0]) > 0.3  # the sprite crosses a third of the image or more
    assert (tmp_path / "q.png").exists()


def test_discover_example_moves_sprites_by_the_requested_amount(tmp_path):
    script = ROOT / "examples" / "discover_shift.py"
    out = subprocess.run([sys.executable, str(script), "--trajectories", "16", "--max-iters", "15", "--out", str(tmp_path / "s.png")],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    measured = {float(a): float(b) for a, b in re.findall(r"requested shift ([+-][0-9.]+) -> measured ([+-][0-9.]+)", out)}
    assert measured[0.1] > 0.05 and measured[-0.1] < -0.05  # right way, roughly the right size
    assert (tmp_path / "s.png").exists()
