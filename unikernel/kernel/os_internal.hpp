// Kernel state behind the os:: API, filled in during boot.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rz::os_internal {

struct BootState {
  std::string_view cmdline;  // arguments, without the image name
  std::size_t memory_total;  // usable RAM from the memory map
  std::uint64_t entry_tsc;   // TSC at the first instruction (boot.S)
  std::uint64_t start_tsc;   // TSC just before Service::start()
};
extern BootState boot;

// Prints "ringzero: exit status N" and ends the VM through isa-debug-exit
// (QEMU exits with (N << 1) | 1).
[[noreturn]] void exit_vm(int status);

}  // namespace rz::os_internal
