#include "arch/x86_64/ioapic.hpp"

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/paging.hpp"
#include "kernel/panic.hpp"

namespace rz::ioapic {
namespace {

// Intel 82093AA data sheet §3.0: an index register (IOREGSEL) and a data
// window (IOWIN) 0x10 bytes above it; registers are 32 bits wide.
constexpr std::uint64_t base = 0xFEC00000;
constexpr std::uint32_t reg_version = 0x01;      // bits 16-23: highest redirection entry
constexpr std::uint32_t reg_redirection = 0x10;  // entry n: low 0x10 + 2n, high 0x11 + 2n
// Redirection entry, low dword (§3.2.4): vector in bits 0-7, delivery mode
// fixed (000) in 8-10, physical destination mode (bit 11 = 0), active high
// (bit 13 = 0), edge-triggered (bit 15 = 0); bit 16 masks. High dword: the
// destination APIC id in bits 24-31.
constexpr std::uint32_t entry_masked = 1u << 16;

volatile std::uint32_t* const select = reinterpret_cast<volatile std::uint32_t*>(base);
volatile std::uint32_t* const window = reinterpret_cast<volatile std::uint32_t*>(base + 0x10);

unsigned entries = 0;  // 0: not initialised yet

std::uint32_t read(std::uint32_t reg) {
  *select = reg;
  return *window;
}

void write(std::uint32_t reg, std::uint32_t value) {
  *select = reg;
  *window = value;
}

void init() {
  static_assert(paging::is_mmio(base), "the IOAPIC must be in the uncached MMIO window");
  entries = ((read(reg_version) >> 16) & 0xFF) + 1;
  if (entries > 240) panic("ioapic: implausible version register %#x", read(reg_version));
  for (unsigned i = 0; i < entries; ++i) write(reg_redirection + 2 * i, entry_masked);
}

}  // namespace

bool route_isa(std::uint8_t irq, std::uint8_t vector) {
  if (!entries) init();
  if (irq == 0 || irq >= entries || irq > 15) return false;
  std::uint32_t reg = reg_redirection + 2 * irq;
  // Masked while the destination changes, then the vector and unmask in one
  // write.
  write(reg, entry_masked | vector);
  write(reg + 1, apic::id() << 24);
  write(reg, vector);
  return true;
}

void mask_isa(std::uint8_t irq) {
  if (!entries || irq >= entries) return;
  write(reg_redirection + 2 * irq, entry_masked);
}

unsigned inputs() {
  return entries;
}

}  // namespace rz::ioapic
