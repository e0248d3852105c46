"""Partial packets as templates, in the manner of packetdrill's wildcards and
gVisor packetimpact's layers: what a template leaves out matches anything.

    matches(frame, Ether(dst=mac) / IP(src=ip) / ICMP(type=0))

For each layer of the template, in order, the frame must have a layer of the
same class further in than the previous one matched; every field set
explicitly in the template layer (``layer.fields``) must equal the frame's.
Values are compared the way the field understands them: MAC addresses
ignoring case, flags and enums by number ("DF" == 2, "echo-reply" == 0),
Raw loads as bytes. A field value may also be a predicate (a callable taking
the frame's value), e.g. ``IP(ttl=lambda t: t > 1)``. A template may instead
be any callable taking the frame and returning a bool.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeAlias

from scapy.packet import NoPayload, Packet

Template: TypeAlias = Packet | Callable[[Packet], bool]


def template_layers(template: Packet) -> list[Packet]:
    layers = []
    layer: Packet = template
    while not isinstance(layer, NoPayload):
        layers.append(layer)
        layer = layer.payload
    return layers


def matches(frame: Packet, template: Template) -> bool:
    if not isinstance(template, Packet):
        return bool(template(frame))
    frame_layers = template_layers(frame)
    pos = 0
    for want in template_layers(template):
        while pos < len(frame_layers) and type(frame_layers[pos]) is not type(want):
            pos += 1
        if pos == len(frame_layers):
            return False
        have = frame_layers[pos]
        for name, value in want.fields.items():
            if not field_equal(have, name, value):
                return False
        pos += 1
    return True


def field_equal(layer: Packet, name: str, wanted: Any) -> bool:
    try:
        actual = layer.getfieldval(name)
    except AttributeError:
        return False
    if callable(wanted) and not isinstance(wanted, Packet | type):
        return bool(wanted(actual))
    return bool(_normal(layer, name, actual) == _normal(layer, name, wanted))


def _normal(layer: Packet, name: str, value: Any) -> Any:
    """A comparable form of a field value."""
    try:
        fld = layer.get_field(name)
    except (AttributeError, KeyError):
        fld = None
    if fld is not None and value is not None and not isinstance(value, Packet | list):
        # A value the field cannot convert stays as it is.
        with contextlib.suppress(Exception):
            value = fld.any2i(layer, value)
    if isinstance(value, str):
        return value.encode() if name == "load" else value.lower()
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, Packet):
        return bytes(value)
    if type(value).__name__ == "FlagValue":
        return int(value)
    return value


# ---- a cheap first look at raw bytes -------------------------------------------------

_ETHER_TYPE_OF = {"ARP": 0x0806, "IP": 0x0800, "ICMP": 0x0800, "TCP": 0x0800, "UDP": 0x0800}
_IP_PROTO_OF = {"ICMP": 1, "TCP": 6, "UDP": 17}


def raw_prefilter(template: Template) -> Callable[[bytes], bool] | None:
    """A test on a frame's raw bytes that every frame matching the template
    passes (Ether addresses and type, IPv4 protocol, ICMP type), so that
    frames that cannot match are never parsed (Scapy takes ~0.5 ms a frame).
    None when the template gives nothing to test."""
    if not isinstance(template, Packet) or template.__class__.__name__ != "Ether":
        return None
    equal: list[tuple[int, bytes]] = []  # (offset, bytes expected there)
    for key, offset in (("dst", 0), ("src", 6)):
        value = template.fields.get(key)
        if isinstance(value, str) and len(value) == 17:
            equal.append((offset, bytes.fromhex(value.replace(":", ""))))
    layers = template_layers(template)[1:]
    names = [layer.__class__.__name__ for layer in layers]
    ether_type = template.fields.get("type")
    if ether_type is None and names and "Dot1Q" not in names:
        ether_type = _ETHER_TYPE_OF.get(names[0])
    if isinstance(ether_type, int):
        equal.append((12, ether_type.to_bytes(2, "big")))
    icmp_type: int | None = None
    proto = next((_IP_PROTO_OF[n] for n in names if n in _IP_PROTO_OF), None)
    if ether_type == 0x0800 and proto is not None and "IPerror" not in names:
        equal.append((23, bytes([proto])))
        icmp = next((layer for layer in layers if layer.__class__.__name__ == "ICMP"), None)
        wanted = icmp.fields.get("type") if icmp is not None else None
        icmp_type = wanted if isinstance(wanted, int) else None
    if not equal and icmp_type is None:
        return None

    def test(data: bytes) -> bool:
        for offset, value in equal:
            if data[offset : offset + len(value)] != value:
                return False
        return icmp_type is None or _icmp_type(data) in (icmp_type, None)

    return test


def _icmp_type(data: bytes) -> int | None:
    """The ICMP type of a first (or only) fragment; None when not at hand."""
    if len(data) < 34 or int.from_bytes(data[20:22], "big") & 0x1FFF:
        return None
    at = 14 + (data[14] & 0x0F) * 4
    return data[at] if len(data) > at else None
