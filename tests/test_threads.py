"""The program takes the cores other processes leave free (``cli.app.share_the_cores``)."""

import os
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
