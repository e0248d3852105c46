"""A classic libpcap file writer (microsecond timestamps, LINKTYPE_ETHERNET),
small enough to call for every frame from the capture thread."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144


class PcapWriter:
    def __init__(self, path: Path, snaplen: int = SNAPLEN) -> None:
        self.path = path
        self.snaplen = snaplen
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO | None = path.open("wb")
        self._file.write(struct.pack("<IHHiIII", MAGIC, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))

    def write(self, data: bytes, timestamp: float) -> None:
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        seconds = int(timestamp)
        micros = round((timestamp - seconds) * 1e6)
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        kept = data[: self.snaplen]
        self._file.write(struct.pack("<IIII", seconds, micros, len(kept), len(data)))
        self._file.write(kept)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
