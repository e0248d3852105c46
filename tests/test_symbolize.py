"""The symbolizer names functions and lines from an ELF with symbols."""

import subprocess

import pytest
from ringzero.symbolize import symbolize

SOURCE = """
__attribute__((noinline)) int leaf(int x) { return x * 3; }
__attribute__((noinline)) int caller(int x) { return leaf(x) + 1; }
int main(void) { return caller(2); }
"""


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    d = tmp_path_factory.mktemp("sym")
    (d / "prog.c").write_text(SOURCE)
    subprocess.run(
        ["cc", "-g", "-O1", "-fno-pie", "-no-pie", "-o", str(d / "prog"), str(d / "prog.c")],
        check=True,
    )
    return d / "prog"


def address_of(elf, name: str) -> int:
    out = subprocess.run(["nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts[-1] == name:
            return int(parts[0], 16)
    raise AssertionError(f"{name} not in {elf}")


def test_frame_zero_is_looked_up_as_is_and_return_addresses_minus_one(elf):
    leaf, caller = address_of(elf, "leaf"), address_of(elf, "caller")
    # Frame 1 is a return address: the byte after a call; symbolize() looks
    # up address-1, so caller's first byte + 1 still lands in caller.
    frames = symbolize(elf, [leaf, caller + 1])
    assert [f.function for f in frames] == ["leaf", "caller"]
    assert frames[0].location.endswith("prog.c:2")
    assert frames[1].location.endswith("prog.c:3")
    assert str(frames[0]).startswith(f"#0 0x{leaf:016x} in leaf at ")


def test_unknown_addresses_are_marked(elf):
    frames = symbolize(elf, [0x10])
    assert frames[0].function == "??"


def test_no_addresses_no_frames(elf):
    assert symbolize(elf, []) == []
