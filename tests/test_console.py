"""The console reader: lines, waits, crash reports and the exit line, fed
through a real unix socket the way QEMU feeds it."""

import socket
import threading
import time

import pytest
from ringzero.console import Console, ConsoleError


@pytest.fixture
def console(tmp_path):
    c = Console(tmp_path / "com1.sock", tmp_path / "serial.log")
    yield c
    c.close()


def connect(console: Console) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(console.socket_path))
    return s


def test_lines_are_split_logged_and_stamped(console, tmp_path):
    with connect(console) as s:
        s.sendall(b"first line\r\nsecond ")
        time.sleep(0.05)
        s.sendall(b"line\r\nno newline at the end")
    assert console.wait_closed(2)
    assert [line.text for line in console.lines] == [
        "first line",
        "second line",
        "no newline at the end",
    ]
    times = [line.time for line in console.lines]
    assert times == sorted(times)
    assert (tmp_path / "serial.log").read_bytes() == (
        b"first line\r\nsecond line\r\nno newline at the end"
    )


def test_wait_for_returns_the_match_and_honours_since(console):
    with connect(console) as s:
        s.sendall(b"value=1\nvalue=2\n")
        m = console.wait_for(r"value=(\d)", timeout=2)
        assert m[1] == "1" and m.line.index == 0
        m2 = console.wait_for(r"value=(\d)", timeout=2, since=m.line.index + 1)
        assert m2[1] == "2"


def test_wait_for_times_out_with_the_tail(console):
    with connect(console), pytest.raises(ConsoleError, match=r"within 0.2 s(.|\n)*no output"):
        console.wait_for("never", timeout=0.2)


def test_wait_for_fails_fast_when_the_vm_ends(console):
    with connect(console) as s:
        s.sendall(b"booting\n")
    start = time.monotonic()
    with pytest.raises(ConsoleError, match=r"closed before(.|\n)*\| booting"):
        console.wait_for("never", timeout=10)
    assert time.monotonic() - start < 2


def test_a_waiter_wakes_when_the_line_arrives(console):
    s = connect(console)

    def later():
        time.sleep(0.1)
        s.sendall(b"ready\n")

    threading.Thread(target=later).start()
    m = console.wait_for("^ready$", timeout=5)
    assert m.line.text == "ready"
    s.close()


def test_crash_report_and_exit_status_are_recognized(console):
    report = (
        "*** ringzero crash: CPU exception 14 (#PF page fault), error code 0x2\n"
        "fault: write to an unmapped page at 0x0000000000000000 (null pointer)\n"
        "rip 0000000000101234 rsp 0000000000120000\n"
        "backtrace:\n"
        "  #0 0x0000000000101234\n"
        "  #1 0x0000000000105678\n"
        "*** end of crash report\n"
        "ringzero: exit status 121\n"
    )
    with connect(console) as s:
        s.sendall(b"before\n" + report.encode())
    assert console.wait_closed(2)
    crash = console.crash
    assert crash is not None and crash.complete
    assert crash.what.startswith("CPU exception 14")
    assert crash.addresses == [0x101234, 0x105678]
    assert console.exit_status == 121


def test_close_without_a_connection_does_not_hang(tmp_path):
    c = Console(tmp_path / "x.sock", tmp_path / "x.log")
    start = time.monotonic()
    c.close()
    assert time.monotonic() - start < 2
    assert not (tmp_path / "x.sock").exists()


def test_a_cut_off_exit_line_gives_no_status(console):
    """QEMU may stop before the last bytes leave: "exit status 1" could be
    the start of "exit status 123"."""
    with connect(console) as s:
        s.sendall(b"ringzero: exit status 1")
    assert console.wait_closed(2)
    assert console.lines[-1].text == "ringzero: exit status 1"
    assert console.exit_status is None
