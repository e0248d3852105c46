// The kernel's page tables: an identity map of the first 4 GiB.
//
// boot.S maps everything with writable 2 MiB pages to reach long mode; init()
// then refines the same tables in place:
//   - page 0 unmapped (null pointers fault),
//   - the image: text read-only and executable, rodata read-only, data and
//     bss writable; all of it but text no-execute,
//   - guard pages below the boot and interrupt stacks unmapped,
//   - RAM above the image (the heap) writable and no-execute,
//   - the 3-4 GiB hole (LAPIC, IOAPIC, PCI BARs) uncached and no-execute,
//   - everything else unmapped.
#pragma once
#include <cstdint>

namespace rz::paging {

inline constexpr std::uint64_t page_size = 4096;

// ram_top: the end of usable RAM below 4 GiB.
void init(std::uint64_t ram_top);

// Whether EFER.NXE is on (the CPU has NX).
bool nx_enabled();

// Whether addr is in the uncached device window (3–4 GiB) the kernel maps.
constexpr bool is_mmio(std::uint64_t addr) {
  return addr >= (3ull << 30) && addr < (4ull << 30);
}

}  // namespace rz::paging
