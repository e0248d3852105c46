"""``ringzero release-report VERSION [RUN]``: a run's report, kept in git.

Copies a run's report (``latest`` by default) into
``reports/releases/<version>/``, the one part of ``reports/`` that is
committed: conformance.json with each test's artifacts removed (serial logs
and packet captures stay in ``reports/<run-id>/``, too big for git, so the
pages carry no dead links), the targets' JUnit XML, conformance.md and
conformance.html rendered from the copy, a release.json recording where it
came from and with what (git revision, the conformance image's size, the
versions of QEMU, libvirt, Scapy, the toolchain, Python, pytest and the
kernel), and a README.md saying the same in prose.

The release is written to a temporary directory beside its final place and
renamed into it at the end, so a failure leaves no half-written release.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..paths import repo_root, reports_dir
from .diff import RELEASES, resolve
from .schema import FILENAME, OUTCOMES, Document, GitInfo, ReportError, dump, load

RELEASE_FILE = "release.json"
README = "README.md"
IMAGE_SERVICE = "conformance"
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}")
TOOL_TIMEOUT_S = 15.0
# libvirtd lives in /usr/sbin, which a user's PATH may lack.
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")

# Each tool's version commands, tried in order; the first line of the first
# that succeeds is its version.
TOOL_COMMANDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "qemu": (("qemu-system-x86_64", "--version"),),
    "libvirt": (("libvirtd", "--version"), ("virsh", "--version")),
    "clang": (("clang++", "--version"),),
    "lld": (("ld.lld", "--version"),),
    "cmake": (("cmake", "--version"),),
}


def _warn(message: str) -> None:
    print(f"ringzero: warning: {message}", file=sys.stderr)


def valid_version(version: str) -> bool:
    """Letters, digits, dots, dashes and plus signs, starting with a letter
    or digit, with at least one digit (``0.1.0``, ``v1.2-rc1``, ``1.0+tcg``)."""
    return VERSION_RE.fullmatch(version) is not None and any(c.isdigit() for c in version)


# ---- what a release records ---------------------------------------------------------


def command_version(*commands: tuple[str, ...]) -> str | None:
    """The first non-empty output line of the first command that exits 0;
    None when none is installed or none works."""
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN])
    for argv in commands:
        exe = shutil.which(argv[0], path=path)
        if exe is None:
            continue
        try:
            proc = subprocess.run(
                list(argv),  # argv[0] as given: some tools print it (libvirtd)
                executable=exe,
                capture_output=True,
                text=True,
                timeout=TOOL_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if proc.returncode != 0:
            continue
        for line in (proc.stdout + "\n" + proc.stderr).splitlines():
            if line.strip():
                return line.strip()
    return None


def _module_version(name: str) -> str | None:
    try:
        module = __import__(name)
    except Exception:  # a broken install is "no version", not a failed release
        return None
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None


def tool_versions() -> dict[str, str | None]:
    """Versions of what built and tested the image; None for a missing tool."""
    versions: dict[str, str | None] = {
        name: command_version(*commands) for name, commands in TOOL_COMMANDS.items()
    }
    versions["scapy"] = _module_version("scapy")
    versions["python"] = platform.python_version()
    versions["pytest"] = _module_version("pytest")
    versions["kernel"] = os.uname().release  # what `uname -r` prints
    return versions


def image_info(service: str = IMAGE_SERVICE) -> dict[str, Any]:
    """Where the service's image is and its size in bytes (None when it is
    not built; nothing is built here), and whether it was built from the
    current sources (None when that cannot be told)."""
    from .. import build

    image, current = build.built_image(service)
    info: dict[str, Any] = {"service": service, "path": _shown(image.path)}
    info["bytes"] = image.size if image.path.is_file() else None
    info["matches_sources"] = current
    return info


def git_info() -> GitInfo:
    from .collect import git_info as checkout_git

    return checkout_git()


def _shown(path: Path) -> str:
    """A path as the README shows it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(repo_root()))
    except (ValueError, RuntimeError):
        return str(path)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def strip_artifacts(doc: Document) -> Document:
    """A copy of the document whose tests link to no artifact files."""
    stripped = copy.deepcopy(doc)
    for test in stripped["tests"]:
        test["artifacts"] = {}
    return stripped


# ---- writing ------------------------------------------------------------------------


TOOL_NAMES = {
    "qemu": "QEMU",
    "libvirt": "libvirt",
    "scapy": "Scapy",
    "clang": "clang++",
    "lld": "ld.lld",
    "cmake": "CMake",
    "python": "Python",
    "pytest": "pytest",
    "kernel": "Linux kernel (host)",
}


def _revision(git: GitInfo | dict[str, Any]) -> str:
    rev = git.get("revision")
    if not rev:
        return "unknown"
    return f"{rev}{' (with uncommitted changes)' if git.get('dirty') else ''}"


def _outcomes(doc: Document) -> list[str]:
    lines = []
    targets = list(
        dict.fromkeys([t["name"] for t in doc["targets"]] + [t["target"] for t in doc["tests"]])
    )
    for target in targets:
        counts = {o: 0 for o in OUTCOMES}
        for test in doc["tests"]:
            if test["target"] == target:
                counts[test["outcome"]] += 1
        shown = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in counts.items() if n)
        lines.append(f"- {target}: {shown or 'no tests'}")
    return lines


def readme(release: dict[str, Any], doc: Document, files: list[str]) -> str:
    """The release directory's README.md."""
    image = release["image"]
    size = f"{image['bytes']} bytes" if image["bytes"] is not None else "not built at release time"
    if image["bytes"] is not None and image.get("matches_sources") is False:
        size += " (built from other sources than the checkout's)"
    lines = [
        f"# ringzero conformance report {release['version']}",
        "",
        f"From conformance run `{release['run_id']}` (written "
        f"{doc['created'] or 'at an unknown time'}, git {_revision(doc['git'])}); "
        f"released {release['created']} from git {_revision(release['git'])}.",
        "",
        *_outcomes(doc),
        "",
        "Files:",
        "",
    ]
    described = {
        "conformance.md": "the report (Markdown)",
        "conformance.html": "the report (HTML)",
        FILENAME: "the report's data, schema `ringzero-conformance/1`; per-test artifacts removed",
        RELEASE_FILE: "where this came from, the image size and the tools' versions",
    }
    order = {"conformance.md": 0, "conformance.html": 1, FILENAME: 2, RELEASE_FILE: 3}
    for name in sorted(files, key=lambda n: (order.get(n, len(order)), n)):
        what = described.get(name, "JUnit XML of one target" if name.startswith("junit-") else "")
        lines.append(f"- [{name}]({name})" + (f": {what}" if what else ""))
    lines += [
        "",
        "The run's full artifacts (each test's serial console logs, packet captures,",
        f"crash reports and agent logs) were in `{release['source']}/` on the machine",
        "that ran it; they are too big for git and are not kept here.",
        "",
        "## Versions",
        "",
        "| | |",
        "|---|---|",
        f"| `{image['service']}` image | {size} |",
    ]
    for key, value in release["tools"].items():
        lines.append(
            f"| {TOOL_NAMES.get(key, key)} | {value if value is not None else 'missing'} |"
        )
    return "\n".join(lines) + "\n"


def _write(doc: Document, run_dir: Path, out: Path, version: str) -> list[str]:
    """Writes the release's files into ``out``; returns their names."""
    stripped = strip_artifacts(doc)
    dump(stripped, out)
    files = [FILENAME]
    # The checkout the run was made in (reports/<run-id>/ under it) and this
    # one: their paths in the XML (pytest writes skipped tests' file paths)
    # become relative, so that no machine's paths go into git.
    roots = {str(run_dir.resolve().parent.parent) + "/", str(repo_root()) + "/"}
    for junit in sorted(run_dir.glob("junit-*.xml")):
        text = junit.read_text()
        for root in roots:
            text = text.replace(root, "")
        (out / junit.name).write_text(text)
        files.append(junit.name)
    try:
        from . import render
    except ImportError:
        _warn(
            "ringzero.report.render is missing: conformance.md and conformance.html were "
            "not written (run release-report again with --force once it is installed)"
        )
    else:
        files += [p.name for p in render.write_all(stripped, out)]

    git = git_info()
    image = image_info()
    if image["bytes"] is None:
        _warn(f"the {image['service']} image is not built ({image['path']}): image size is null")
    elif image["matches_sources"] is False:
        _warn(f"the {image['service']} image was built from other sources than the checkout's")
    run_rev = doc["git"].get("revision")
    if run_rev and git["revision"] and run_rev != git["revision"]:
        _warn(
            f"run {doc['run_id']} was made at {run_rev[:12]}, the checkout is at "
            f"{git['revision'][:12]}: the versions recorded are this checkout's"
        )
    release: dict[str, Any] = {
        "version": version,
        "run_id": doc["run_id"],
        "created": _now(),
        "git": dict(git),
        "run_created": doc["created"],
        "run_git": dict(doc["git"]),
        "source": _shown(run_dir),
        "image": image,
        "tools": tool_versions(),
    }
    (out / RELEASE_FILE).write_text(json.dumps(release, indent=1) + "\n")
    files.append(RELEASE_FILE)
    (out / README).write_text(readme(release, doc, files))
    return [*files, README]


def release_main(
    version: str, run_ref: str = "latest", reports: Path | None = None, force: bool = False
) -> int:
    """Copies the run ``run_ref`` names into ``reports/releases/<version>/``.
    Returns 0, or 2 with one line on stderr when the version is not like a
    version, the release exists (without ``force``) or the run has no report."""
    if not valid_version(version):
        print(
            f"ringzero: {version!r} is not a version: use letters, digits, '.', '-' and '+', "
            "starting with a letter or digit (e.g. 0.1.0)",
            file=sys.stderr,
        )
        return 2
    base = reports if reports is not None else reports_dir()
    dest = base / RELEASES / version
    if dest.exists() and not force:
        print(
            f"ringzero: release {version} exists ({dest}/); use --force to replace it",
            file=sys.stderr,
        )
        return 2
    try:
        source = resolve(run_ref, base)
        doc = load(source)
    except ReportError as e:
        print(f"ringzero: {e}", file=sys.stderr)
        return 2

    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.parent / f".{version}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        files = _write(doc, source.parent, partial, version)
        if dest.exists():
            shutil.rmtree(dest)
        partial.rename(dest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(f"ringzero: release {version} from run {doc['run_id']} in {_shown(dest)}/:")
    for name in files:
        print(f"  {name}")
    print(f"ringzero: commit it with `git add {_shown(dest)}`")
    return 0
