"""The program's start: it takes the cores other processes leave free (``cli.app.share_the_cores``) and imports
torch without the cycle collector walking it (``cli.app.import_torch``)."""

import json
import os
import subprocess
import sys

import pytest

from latentnav.cli.app import share_the_cores


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # as in a fresh process, before torch is imported
    yield
    os.environ.pop("OMP_NUM_THREADS", None)


def loadavg(tmp_path, running: int):
    path = tmp_path / "loadavg"
    path.write_text(f"1.50 1.20 0.90 {running}/321 4567\n")
    return str(path)


def test_one_thread_beside_one_busy_process_on_two_cores(tmp_path, two_cores):
    assert share_the_cores(pause=0, loadavg=loadavg(tmp_path, 2)) == 1  # this process and one other
    assert os.environ["OMP_NUM_THREADS"] == "1"


def test_all_cores_left_to_torch_when_nothing_else_runs_or_when_busier_still(tmp_path, two_cores):
    assert share_the_cores(pause=0, loadavg=loadavg(tmp_path, 1)) is None and "OMP_NUM_THREADS" not in os.environ
    assert share_the_cores(pause=0, loadavg=loadavg(tmp_path, 5)) == 1  # never fewer than one thread


def test_a_users_own_setting_an_imported_torch_or_no_loadavg_change_nothing(tmp_path, two_cores, monkeypatch):
    assert share_the_cores(pause=0, loadavg=str(tmp_path / "missing")) is None
    monkeypatch.setitem(sys.modules, "torch", object())
    assert share_the_cores(pause=0, loadavg=loadavg(tmp_path, 2)) is None
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert share_the_cores(pause=0, loadavg=loadavg(tmp_path, 2)) is None and os.environ["OMP_NUM_THREADS"] == "2"


COUNT_FULL_COLLECTIONS = """
import gc, json, sys
full = []
gc.callbacks.append(lambda phase, info: full.append(1) if phase == "start" and info["generation"] == 2 else None)
{importer}
print(json.dumps({{"full": len(full), "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}}))
"""


def _collections_while(importer: str) -> dict:
    code = COUNT_FULL_COLLECTIONS.format(importer=importer)
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def test_torch_is_imported_without_a_full_collection_and_left_frozen():
    plain = _collections_while("import torch")
    assert plain["full"] >= 1 and plain["frozen"] == 0  # what a bare import costs: the collector walks torch's objects
    ours = _collections_while("from latentnav.cli.app import import_torch; import_torch()")
    assert ours["full"] == 0 and ours["enabled"]
    assert ours["frozen"] > 100_000  # torch's objects, skipped by every later collection (and the one at exit)
