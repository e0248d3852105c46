"""The pytest plugin's own behaviour, driven through pytester (no VM)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ringzero.net import netns

pytest_plugins = ["pytester"]


def test_unknown_target_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("--target", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--target: no target 'nope': the targets are *ringzero*"])


def test_a_malformed_rfc_marker_is_a_usage_error(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.rfc(826, "Packet Reception", "MUSTN'T")
        def test_x(): pass
        """
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_x*@pytest.mark.rfc(<number>, '<section>', 'MUST|SHOULD|MAY')*"]
    )


def test_requires_skips_tests_the_target_cannot_run(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.requires("kernel")
        def test_kernel(): pass

        @pytest.mark.rfc(826, "Packet Reception", "MUST")
        @pytest.mark.requires("sctp")
        def test_sctp(): pass
        """
    )
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*not applicable to target ringzero: needs sctp*"])


def test_deviations_run_as_strict_xfail(pytester):
    target = pytester.path / "deviant.toml"
    target.write_text(
        'name = "deviant"\nkind = "unikernel"\ncapabilities = []\n'
        "[deviations]\n"
        '"test_dev.py::test_still_broken" = "known bug 1"\n'
        '"test_dev.py::test_fixed_meanwhile" = "known bug 2"\n'
    )
    pytester.makepyfile(
        test_dev="""
        def test_still_broken(): assert False
        def test_fixed_meanwhile(): pass
        def test_fine(): pass
        """
    )
    result = pytester.runpytest_subprocess("--target", str(target), "-rxX")
    # A deviation that stops deviating fails the run, so the fix is noticed.
    result.assert_outcomes(passed=1, xfailed=1, failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*known deviation: known bug 2*"])


def test_artifacts_go_under_the_run_and_the_test(pytester):
    pytester.makepyfile(
        """
        def test_writes(artifacts):
            (artifacts / "note.txt").write_text("kept")
        """
    )
    reports = pytester.path / "out"
    result = pytester.runpytest_subprocess("--reports", str(reports))
    result.assert_outcomes(passed=1)
    (written,) = reports.glob("*/*/note.txt")
    assert written.parent.name == "test_artifacts_go_under_the_run_and_the_test.py-test_writes"


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")
def test_linux_sut_and_peer_fixtures_capture_and_clean_up(pytester):
    pytester.makepyfile(
        """
        from scapy.layers.inet import ICMP, IP
        from scapy.layers.l2 import ARP, Ether

        def test_echo(peer, sut, wire):
            h = peer.host(1)
            peer.send(Ether(src=h.mac, dst=sut.mac) / IP(src=h.ip, dst=sut.ip) / ICMP(id=9))
            assert peer.expect(Ether() / ARP(op=1, pdst=h.ip)) is not None  # answered by the peer
            assert peer.expect(Ether(dst=h.mac) / IP(src=sut.ip) / ICMP(type=0, id=9))
            assert sut.agent.request("config")["ip"] == sut.ip == wire.addr.target_ip
            assert wire.run(["ping", "-c", "1", "-W", "2", sut.ip]).returncode == 0
            assert sut.link in wire.links()

        def test_peer_alone(peer):
            assert peer.link and peer.collect(0.1) == []

        def test_fails(peer, sut):
            assert False, "on purpose"
        """
    )
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess("--target", "linux", "--reports", str(reports))
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*Linux agent*", "*wire.pcap: * frames from the target*"])
    pcaps = sorted(reports.glob("*/*/wire.pcap"))
    assert len(pcaps) == 3 and all(p.stat().st_size > 24 for p in pcaps[:1])
    run_id = pcaps[0].parent.parent.name
    assert not [n for n in netns.names() if run_id in n], "namespaces left behind"


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")
def test_a_target_that_dies_during_a_test_fails_it(pytester):
    """The sut fixture checks the target after each test: bad input may be
    dropped, never kill it. Here the Linux agent is killed mid-test."""
    pytester.makepyfile(
        """
        def test_kills_its_target(sut):
            sut.proc.kill()
            sut.proc.wait()
        """
    )
    result = pytester.runpytest_subprocess("--target", "linux")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*the Linux agent exited during the test (status -9)*"])


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces need root")
def test_sigterm_ends_the_session_and_cleans_up(pytester):
    """SIGTERM in the middle of a test ends the whole session (the next test
    does not start) and the fixtures still remove the target's namespaces."""
    started = pytester.path / "started"
    pytester.makepyfile(
        f"""
        import time
        from pathlib import Path

        def test_waits(sut):
            Path({str(started)!r}).write_text(sut.ns)
            time.sleep(60)

        def test_after():
            Path({str(started)!r} + ".after").write_text("ran")
        """
    )
    log = pytester.path / "pytest.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--target", "linux"],
            cwd=pytester.path,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), "the test did not start"
        ns = started.read_text()
        assert ns in netns.names()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = log.read_text(errors="replace")
    assert proc.returncode == 2, out
    assert "SIGTERM" in out, out
    assert not Path(str(started) + ".after").exists(), "the session went on after SIGTERM"
    assert ns not in netns.names(), "the target's namespace was left behind"
