// The operating system as a service sees it: identity, time, memory, and the
// end of the VM.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace os {

// Exit statuses the VM ends with. The harness reads the same table
// (harness/exit_status.py); tests/test_exit_status.py keeps the two in step.
namespace exit_status {
inline constexpr int success = 0;
inline constexpr int failure = 1;
// A CPU exception in the kernel or a service.
inline constexpr int cpu_exception = 121;
// rz::panic(): a kernel invariant broke.
inline constexpr int panic = 122;
// std::terminate(), e.g. a C++ exception nobody caught.
inline constexpr int uncaught_exception = 123;
// operator new could not allocate.
inline constexpr int out_of_memory = 124;
// Heap misuse caught by its checks: double or invalid free, an overrun.
inline constexpr int heap_corruption = 125;
}  // namespace exit_status

// Ends the VM with the given status (0..127). Does not return.
[[noreturn]] void shutdown(int status);

// The kernel's version string, e.g. "0.1.0".
std::string_view version();
// The kernel command line as given by the boot loader (without the image name).
std::string_view cmdline();
// The value of "key=value" on the command line, or an empty view.
std::string_view cmdline_arg(std::string_view key);
// Whether a bare "key" or "key=..." is on the command line.
bool cmdline_has(std::string_view key);

// Time since the CPU came out of reset.
std::chrono::nanoseconds uptime();
// Microseconds from reset to Service::start() (0 before it).
std::uint64_t boot_to_start_us();
// Microseconds from the kernel's first instruction to Service::start().
std::uint64_t kernel_init_us();

// Usable RAM the kernel found in the boot memory map, in bytes.
std::size_t memory_total();

struct HeapStats {
  std::size_t capacity;       // bytes managed by the heap
  std::size_t in_use;         // bytes handed out and not yet freed
  std::size_t peak;           // highest in_use seen
  std::size_t live;           // allocations not yet freed
  std::uint64_t allocations;  // allocations ever made
  std::uint64_t frees;        // frees ever made
};
HeapStats heap_stats();
// Whether the heap runs in debug mode (canaries, double/invalid free checks);
// set with "heap=debug" on the command line.
bool heap_debug();

}  // namespace os
