"""Run ownership: live runs are left alone, dead runs are swept."""

import multiprocessing
import os
import re
import signal

from ringzero import runs


def test_run_ids_and_names():
    rid = runs.new_run_id()
    assert re.fullmatch(runs.RUN_ID_RE, rid)
    name = runs.resource_name(rid, "hello 1/x")
    assert name == f"ringzero-{rid}-hello_1_x"
    assert runs.run_of(name) == rid
    assert runs.run_of("other-vm") is None


def test_a_run_is_alive_while_a_process_holds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RINGZERO_STATE_DIR", str(tmp_path))
    run = runs.Run()
    assert runs.run_alive(run.id)
    run.close()
    assert not runs.run_alive(run.id)


def _hold_run_and_wait(run_id: str, ready, state_dir: str) -> None:
    os.environ["RINGZERO_STATE_DIR"] = state_dir
    runs.Run(run_id)
    (runs.run_dir(run_id) / "leftover.sock").write_text("")
    ready.set()
    signal.pause()


def test_a_killed_run_is_dead_and_its_leftovers_are_swept(tmp_path, monkeypatch):
    monkeypatch.setenv("RINGZERO_STATE_DIR", str(tmp_path))
    # With a private state dir every real run looks dead: keep the registered
    # sweepers (VMs, namespaces, taps) away from runs going on beside this one.
    monkeypatch.setattr(runs, "_sweepers", [])
    rid = runs.new_run_id()
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_run_and_wait, args=(rid, ready, str(tmp_path)))
    proc.start()
    assert ready.wait(10)
    assert runs.run_alive(rid)
    assert runs.sweep() == {}  # a live run is not touched
    assert (tmp_path / rid / "leftover.sock").exists()
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert not runs.run_alive(rid)
    removed = runs.sweep()
    assert removed == {"scratch directories": [str(tmp_path / rid)]}
    assert not (tmp_path / rid).exists()


def test_undo_steps_run_in_reverse_once(tmp_path, monkeypatch):
    monkeypatch.setenv("RINGZERO_STATE_DIR", str(tmp_path))
    done = []
    run = runs.Run()
    run.on_close("a", lambda: done.append("a"))
    now = run.on_close("b", lambda: done.append("b"))
    run.on_close("c", lambda: done.append("c"))
    now()
    now()
    run.close()
    run.close()
    assert done == ["b", "c", "a"]


def test_a_failing_undo_step_does_not_stop_the_others(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RINGZERO_STATE_DIR", str(tmp_path))
    done = []
    run = runs.Run()
    run.on_close("first", lambda: done.append("first"))
    run.on_close("broken", lambda: 1 / 0)
    run.close()
    assert done == ["first"]
    assert "cleanup of broken failed" in capsys.readouterr().err
