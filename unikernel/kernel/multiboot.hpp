// The multiboot (v1) information the loader leaves: the command line and the
// memory map. Copied out at once, because the loader puts it right after the
// image, where the heap begins.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rz::multiboot {

inline constexpr std::uint32_t loader_magic = 0x2BADB002;

struct Region {
  std::uint64_t base, length;
};

struct BootInfo {
  static constexpr std::size_t max_regions = 32;
  static constexpr std::size_t max_cmdline = 1024;
  char cmdline[max_cmdline];  // NUL-terminated, truncated if longer
  Region usable[max_regions];
  std::size_t usable_count;
  std::uint64_t usable_bytes;

  // The usable region that contains `address`, if any.
  const Region* region_containing(std::uint64_t address) const;
};

// Returns false (with `why` set) when the loader is not multiboot or gave no
// memory information.
bool parse(std::uint32_t magic, std::uint32_t info_address, BootInfo& out, const char*& why);

}  // namespace rz::multiboot
