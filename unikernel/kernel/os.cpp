#include <ringzero/os.hpp>

#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "kernel/cmdline.hpp"
#include "kernel/console.hpp"
#include "kernel/os_internal.hpp"

namespace rz::os_internal {

BootState boot{};

void exit_vm(int status) {
  cpu::disable_interrupts();
  if (status < 0 || status > 127) status = os::exit_status::failure;
  console::print("ringzero: exit status %d\n", status);
  console::flush();  // QEMU exits at once on the next write, dropping unsent bytes
  constexpr std::uint16_t isa_debug_exit = 0xF4;
  cpu::outl(isa_debug_exit, std::uint32_t(status));
  console::write("ringzero: no isa-debug-exit device; halted\n");
  cpu::halt_forever();
}

}  // namespace rz::os_internal

namespace os {

using rz::os_internal::boot;

void shutdown(int status) {
  rz::os_internal::exit_vm(status);
}

std::string_view version() {
  return RINGZERO_VERSION;
}
std::string_view cmdline() {
  return boot.cmdline;
}
std::string_view cmdline_arg(std::string_view key) {
  return rz::cmdline::value(boot.cmdline, key);
}
bool cmdline_has(std::string_view key) {
  return rz::cmdline::has(boot.cmdline, key);
}

std::chrono::nanoseconds uptime() {
  return std::chrono::nanoseconds(rz::clock::monotonic_ns());
}

std::uint64_t boot_to_start_us() {
  return boot.start_tsc ? rz::clock::ticks_to_ns(boot.start_tsc) / 1000 : 0;
}
std::uint64_t kernel_init_us() {
  return boot.start_tsc ? rz::clock::ticks_to_ns(boot.start_tsc - boot.entry_tsc) / 1000 : 0;
}

std::size_t memory_total() {
  return boot.memory_total;
}

}  // namespace os
