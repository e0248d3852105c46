#include "kernel/multiboot.hpp"

#include <cstring>

namespace rz::multiboot {
namespace {

// Multiboot 0.6.96 §3.3, the fields we read.
struct [[gnu::packed]] Info {
  std::uint32_t flags;
  std::uint32_t mem_lower, mem_upper;
  std::uint32_t boot_device;
  std::uint32_t cmdline;
  std::uint32_t mods_count, mods_addr;
  std::uint32_t syms[4];
  std::uint32_t mmap_length, mmap_addr;
};
static_assert(sizeof(Info) == 52);

struct [[gnu::packed]] MmapEntry {
  std::uint32_t size;  // of the rest of the entry
  std::uint64_t base, length;
  std::uint32_t type;
};
static_assert(sizeof(MmapEntry) == 24);

constexpr std::uint32_t flag_mem = 1u << 0, flag_cmdline = 1u << 2, flag_mmap = 1u << 6;
constexpr std::uint32_t type_available = 1;

void add_region(BootInfo& out, std::uint64_t base, std::uint64_t length) {
  if (length == 0 || out.usable_count == BootInfo::max_regions) return;
  out.usable[out.usable_count++] = {base, length};
  out.usable_bytes += length;
}

}  // namespace

const Region* BootInfo::region_containing(std::uint64_t a) const {
  for (std::size_t i = 0; i < usable_count; ++i)
    if (a >= usable[i].base && a - usable[i].base < usable[i].length) return &usable[i];
  return nullptr;
}

bool parse(std::uint32_t magic, std::uint32_t info_address, BootInfo& out, const char*& why) {
  out = {};
  if (magic != loader_magic) {
    why = "not started by a multiboot loader (bad magic in EAX)";
    return false;
  }
  const auto* info = reinterpret_cast<const Info*>(std::uintptr_t(info_address));
  if (info->flags & flag_cmdline) {
    const char* src = reinterpret_cast<const char*>(std::uintptr_t(info->cmdline));
    std::size_t n = strnlen(src, BootInfo::max_cmdline - 1);
    std::memcpy(out.cmdline, src, n);
    out.cmdline[n] = '\0';
  }
  if (info->flags & flag_mmap) {
    std::uintptr_t p = info->mmap_addr, end = p + info->mmap_length;
    while (p + sizeof(std::uint32_t) <= end) {
      const auto* e = reinterpret_cast<const MmapEntry*>(p);
      if (e->size < sizeof(MmapEntry) - sizeof(std::uint32_t) ||
          p + sizeof(std::uint32_t) + e->size > end)
        break;  // malformed entry: keep what was read so far
      if (e->type == type_available) add_region(out, e->base, e->length);
      p += sizeof(std::uint32_t) + e->size;
    }
  }
  if (out.usable_count == 0 && (info->flags & flag_mem)) {
    add_region(out, 0, std::uint64_t(info->mem_lower) * 1024);
    add_region(out, 1u << 20, std::uint64_t(info->mem_upper) * 1024);
  }
  if (out.usable_count == 0) {
    why = "the loader gave no memory map";
    return false;
  }
  return true;
}

}  // namespace rz::multiboot
