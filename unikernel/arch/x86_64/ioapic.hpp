// The I/O APIC: routes ISA interrupt lines (the UARTs) to local APIC vectors.
//
// One IOAPIC at the standard address 0xFEC00000 (QEMU's pc machine; the ACPI
// MADT is not read). ISA IRQs 1-15 are taken to be wired to the inputs of the
// same number, which holds on QEMU's pc for every ISA IRQ but 0 (the PIT,
// overridden to input 2), so IRQ 0 is refused.
//
// Nothing is touched until the first route: images that route no interrupt
// (most of them) spend no boot time here. The first route masks every input,
// then unmasks the one routed.
#pragma once
#include <cstdint>

namespace rz::ioapic {

// Routes ISA IRQ `irq` to `vector` on this CPU: fixed delivery, physical
// destination, edge-triggered, active high (the ISA convention), unmasked.
// False when the IRQ has no input (0, or beyond the IOAPIC's inputs).
bool route_isa(std::uint8_t irq, std::uint8_t vector);
// Masks ISA IRQ `irq` again.
void mask_isa(std::uint8_t irq);

// Number of redirection entries (24 on QEMU); 0 before the first route.
unsigned inputs();

}  // namespace rz::ioapic
