"""Turns code addresses from a crash report into function, file and line,
using the image's ELF (with symbols) and binutils' addr2line."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .paths import repo_root


@dataclass(frozen=True)
class Frame:
    index: int
    address: int
    function: str
    location: str  # "path/file.cpp:123", or "??:0" when unknown
    inlined: tuple[tuple[str, str], ...] = ()  # (function, location) of inlining callers

    def __str__(self) -> str:
        text = f"#{self.index} 0x{self.address:016x} in {self.function} at {self.location}"
        for function, location in self.inlined:
            text += f"\n      inlined into {function} at {location}"
        return text


def _tool() -> str:
    for name in ("addr2line", "llvm-addr2line"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("addr2line not found: install binutils (apt-get install binutils)")


def _relative(location: str) -> str:
    root = str(repo_root()) + "/"
    return location[len(root) :] if location.startswith(root) else location


def symbolize(elf: Path, addresses: list[int]) -> list[Frame]:
    """Frame 0 is the faulting instruction (or the first return address when
    there is none); later frames are return addresses, looked up at address-1
    so that the line is the call's, not the next statement's."""
    if not addresses:
        return []
    lookups = [a if i == 0 else a - 1 for i, a in enumerate(addresses)]
    out = subprocess.run(
        [_tool(), "-e", str(elf), "-a", "-f", "-C", "-i", *(f"0x{a:x}" for a in lookups)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    groups: list[list[str]] = []
    for line in out:
        if line.startswith("0x"):
            groups.append([])
        elif groups:
            groups[-1].append(line)
    frames = []
    for i, (address, group) in enumerate(zip(addresses, groups, strict=False)):
        pairs = [
            (group[j], _relative(group[j + 1].split(" (discriminator")[0]))
            for j in range(0, len(group) - 1, 2)
        ]
        function, location = pairs[0] if pairs else ("??", "??:0")
        frames.append(Frame(i, address, function, location, tuple(pairs[1:])))
    return frames
