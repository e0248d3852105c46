"""Builds unikernel images by driving CMake, cached by a hash of the sources.

An image is rebuilt only when a file under unikernel/ or the toolchain
changed since it was last built; concurrent builds (pytest-xdist workers)
serialize on a lock file.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .paths import build_dir, repo_root


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Image:
    service: str
    path: Path  # stripped: the bootable image
    elf: Path  # with symbols: for the symbolizer

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def services() -> list[str]:
    root = repo_root() / "unikernel" / "services"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.cpp")))


@cache
def _toolchain_id() -> str:
    parts = []
    for tool in ("clang++", "ld.lld", "cmake", "g++"):
        path = shutil.which(tool)
        if path is None:
            raise BuildError(f"{tool} not found: run `make setup` to install the toolchain")
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
        parts.append(out.stdout.splitlines()[0] if out.stdout else tool)
    return "\n".join(parts)


def source_hash() -> str:
    """Hash of every file under unikernel/ plus the toolchain's versions."""
    root = repo_root() / "unikernel"
    h = hashlib.sha256(_toolchain_id().encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        h.update(str(rel).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def _image(service: str) -> Image:
    out = build_dir() / "services"
    return Image(service, out / f"{service}.img", out / f"{service}.elf")


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip().splitlines()
        tail = "\n".join(output[-60:])
        raise BuildError(f"{what} failed ({' '.join(argv)}):\n{tail}")


def build(names: Iterable[str], *, verbose: bool = True) -> dict[str, Image]:
    """Builds the images of the named services (cached); returns them by name."""
    wanted = list(dict.fromkeys(names))
    known = services()
    for name in wanted:
        if name not in known:
            raise BuildError(
                f"unknown service {name!r}: the services are {', '.join(known)} "
                "(unikernel/services/<name>/)"
            )
    out = build_dir()
    out.mkdir(parents=True, exist_ok=True)
    images = {name: _image(name) for name in wanted}
    with (out.parent / "unikernel.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest = source_hash()
        stale = [
            n for n, img in images.items() if not img.path.exists() or _read_stamp(img) != digest
        ]
        if not stale:
            return images
        if verbose:
            print(f"ringzero: building {', '.join(stale)} ...", file=sys.stderr, flush=True)
        # Configuring an up-to-date tree costs little, and it repairs a tree
        # whose last configure failed halfway.
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        _run(
            ["cmake", "-S", str(repo_root() / "unikernel"), "-B", str(out), *generator],
            "configuring the unikernel build",
        )
        _run(["cmake", "--build", str(out), "--target", *stale], "building " + ", ".join(stale))
        for name in stale:
            _stamp(images[name]).write_text(digest)
            if verbose:
                size = images[name].size
                print(
                    f"ringzero: image {name}: {size} bytes ({size / 1024:.0f} KiB)", file=sys.stderr
                )
    return images


def _stamp(image: Image) -> Path:
    return image.path.with_suffix(".source-hash")


def _read_stamp(image: Image) -> str:
    path = _stamp(image)
    return path.read_text() if path.exists() else ""


def built_image(service: str) -> tuple[Image, bool | None]:
    """A service's image where build() puts it, without building, and
    whether it was built from the current sources (None when it is not
    there or that cannot be told)."""
    image = _image(service)
    if not image.path.is_file():
        return image, None
    try:
        return image, _read_stamp(image) == source_hash()
    except (BuildError, OSError):
        return image, None
