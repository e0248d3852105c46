// The kernel's stacks (boot.S): the boot stack, on which the event loop and
// every service callback run, and three interrupt stacks. Each has an
// unmapped guard page right below it, so an overflow faults at once.
#pragma once
#include <cstddef>
#include <cstdint>

extern "C" char boot_stack_guard[], boot_stack_bottom[], boot_stack_top[];
extern "C" char ist_stacks[], ist_stacks_end[];

namespace rz::stacks {

inline constexpr std::size_t page_size = 4096;
inline constexpr std::size_t ist_stack_size = 16 * 1024;
inline constexpr int ist_count = 3;

struct Range {
  std::uintptr_t bottom, top;
  bool contains(std::uintptr_t a) const { return a >= bottom && a < top; }
};

inline Range boot() {
  return {reinterpret_cast<std::uintptr_t>(boot_stack_bottom),
          reinterpret_cast<std::uintptr_t>(boot_stack_top)};
}
// IST stack i (0-based; the TSS numbers them 1..3).
inline Range ist(int i) {
  auto base = reinterpret_cast<std::uintptr_t>(ist_stacks) + i * (page_size + ist_stack_size);
  return {base + page_size, base + page_size + ist_stack_size};
}
inline std::uintptr_t ist_guard(int i) {
  return ist(i).bottom - page_size;
}
inline std::uintptr_t boot_guard() {
  return reinterpret_cast<std::uintptr_t>(boot_stack_guard);
}

// The stack that contains address a, if any.
inline bool find(std::uintptr_t a, Range& out) {
  if (boot().contains(a)) return out = boot(), true;
  for (int i = 0; i < ist_count; ++i)
    if (ist(i).contains(a)) return out = ist(i), true;
  return false;
}

}  // namespace rz::stacks
