#include "arch/x86_64/paging.hpp"

#include <cstddef>

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/stacks.hpp"
#include "kernel/panic.hpp"

extern "C" std::uint64_t page_pd[4][512];
extern "C" char __image_start[], __text_end[], __rodata_end[], __image_end[];

namespace rz::paging {
namespace {

// Entry bits, SDM Vol. 3 Table 4-19 and 4-18.
constexpr std::uint64_t present = 1ull << 0;
constexpr std::uint64_t writable = 1ull << 1;
constexpr std::uint64_t write_through = 1ull << 3;
constexpr std::uint64_t cache_disable = 1ull << 4;
constexpr std::uint64_t large = 1ull << 7;  // 2 MiB page in a PD entry
constexpr std::uint64_t no_execute = 1ull << 63;

constexpr std::uint64_t large_size = 2ull << 20;
constexpr std::uint64_t mmio_start = 3ull << 30;
constexpr std::uint64_t map_end = 4ull << 30;

// Page tables for the 4 KiB-grained start of memory (the image and its
// stacks); 8 tables cover 16 MiB.
constexpr std::size_t fine_tables = 8;
[[gnu::section(".bss.pagetables")]] alignas(4096) std::uint64_t page_pt[fine_tables][512];

bool nx = false;

std::uint64_t addr(const void* p) {
  return reinterpret_cast<std::uint64_t>(p);
}

std::uint64_t flags_for_page(std::uint64_t a, std::uint64_t nx_bit) {
  if (a == 0) return 0;  // null
  if (a == stacks::boot_guard()) return 0;
  for (int i = 0; i < stacks::ist_count; ++i)
    if (a == stacks::ist_guard(i)) return 0;
  if (a >= addr(__image_start) && a < addr(__text_end)) return present;
  if (a >= addr(__text_end) && a < addr(__rodata_end)) return present | nx_bit;
  return present | writable | nx_bit;
}

}  // namespace

bool nx_enabled() {
  return nx;
}

void init(std::uint64_t ram_top) {
  nx = cpu::enable_nx();
  const std::uint64_t nx_bit = nx ? no_execute : 0;
  const std::uint64_t fine_end = (addr(__image_end) + large_size - 1) & ~(large_size - 1);
  if (fine_end / large_size > fine_tables)
    panic("image ends at %p: more than %zu fine page tables needed", __image_end, fine_tables);
  ram_top = (ram_top + large_size - 1) & ~(large_size - 1);

  std::uint64_t* pd = &page_pd[0][0];
  for (std::uint64_t region = 0; region < map_end; region += large_size) {
    std::uint64_t& entry = pd[region / large_size];
    if (region < fine_end) {
      std::uint64_t* pt = page_pt[region / large_size];
      for (std::uint64_t i = 0; i < 512; ++i) {
        std::uint64_t a = region + i * page_size;
        std::uint64_t f = flags_for_page(a, nx_bit);
        pt[i] = f ? (a | f) : 0;
      }
      entry = addr(pt) | present | writable;
    } else if (region < ram_top) {
      entry = region | present | writable | large | nx_bit;
    } else if (region >= mmio_start) {
      entry = region | present | writable | large | cache_disable | write_through | nx_bit;
    } else {
      entry = 0;
    }
  }
  cpu::write_cr3(cpu::read_cr3());
}

}  // namespace rz::paging
