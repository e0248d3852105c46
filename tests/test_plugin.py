"""The pytest plugin's own behaviour, driven through pytester (no VM)."""

import pytest

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
        @pytest.mark.requires("arp")
        def test_arp(): pass
        """
    )
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*not applicable to target ringzero: needs arp*"])


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
