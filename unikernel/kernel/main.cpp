// kernel_main: from boot.S to Service::start() and the event loop.
#include <cstdint>
#include <ringzero/os.hpp>
#include <ringzero/service.hpp>

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/paging.hpp"
#include "drivers/virtio_net.hpp"
#include "kernel/cmdline.hpp"
#include "kernel/console.hpp"
#include "kernel/cxxrt.hpp"
#include "kernel/eventloop.hpp"
#include "kernel/malloc.hpp"
#include "kernel/multiboot.hpp"
#include "kernel/os_internal.hpp"
#include "kernel/panic.hpp"
#include "net/stack.hpp"

extern "C" std::uint64_t boot_tsc_entry;
extern "C" char __image_end[];

namespace {

rz::multiboot::BootInfo boot_info;

const char* hypervisor_name() {
  auto r = rz::cpu::cpuid(0x40000000);
  if (r.ebx == 0x4b4d564b) return "kvm";  // "KVMK"
  if (r.ebx == 0x54474354) return "tcg";  // "TCGT"
  return (rz::cpu::cpuid(1).ecx & (1u << 31)) ? "hypervisor" : "bare metal";
}

// The heap takes the rest of the usable region the image was loaded into.
void init_heap() {
  auto start = (reinterpret_cast<std::uint64_t>(__image_end) + 4095) & ~std::uint64_t(4095);
  const auto* region = boot_info.region_containing(start);
  if (!region) rz::panic("no usable memory after the image at %#lx", start);
  std::uint64_t end = region->base + region->length;
  bool debug = rz::cmdline::value(rz::os_internal::boot.cmdline, "heap") == "debug";
  rz::heap_init(reinterpret_cast<void*>(start), end - start, debug);
}

std::uint64_t ram_top() {
  std::uint64_t top = 0;
  for (std::size_t i = 0; i < boot_info.usable_count; ++i) {
    std::uint64_t end = boot_info.usable[i].base + boot_info.usable[i].length;
    if (end <= (4ull << 30) && end > top) top = end;
  }
  return top;
}

void print_banner() {
  using namespace rz;
  auto heap = os::heap_stats();
  console::print(
      "ringzero %s on %s (%s apic, %s timer, tsc %lu kHz via %s, nx %s)\n"
      "memory %zu KiB, heap %zu KiB%s, cmdline \"%.*s\"\n"
      "ringzero: Service::start() at %lu us after reset (kernel %lu us)\n",
      RINGZERO_VERSION, hypervisor_name(), apic::x2apic() ? "x2" : "x",
      apic::tsc_deadline() ? "tsc-deadline" : "one-shot", clock::tsc_hz() / 1000, clock::source(),
      paging::nx_enabled() ? "on" : "off", os::memory_total() / 1024, heap.capacity / 1024,
      os::heap_debug() ? " (debug)" : "", int(os_internal::boot.cmdline.size()),
      os_internal::boot.cmdline.data(), os::boot_to_start_us(), os::kernel_init_us());
}

}  // namespace

extern "C" [[noreturn]] void kernel_main(std::uint32_t magic, std::uint32_t info) {
  using namespace rz;
  os_internal::boot.entry_tsc = boot_tsc_entry;
  cpu::init_descriptor_tables();  // from here on, faults give crash reports
  cxxrt::init_tls();

  const char* why = nullptr;
  if (!multiboot::parse(magic, info, boot_info, why)) panic("%s", why);
  os_internal::boot.cmdline = cmdline::strip_image_name(boot_info.cmdline);
  os_internal::boot.memory_total = boot_info.usable_bytes;

  paging::init(ram_top());
  // Timer calibration (under TCG) overlaps the rest of start-up.
  clock::start_calibration();
  apic::init();
  init_heap();
  clock::init();
  apic::finish_init();
  // Global constructors may allocate and read the clock.
  cxxrt::run_constructors();
  eventloop::init();
  cpu::enable_interrupts();

  os_internal::boot.start_tsc = clock::rdtsc();
  if (!cmdline::has(os_internal::boot.cmdline, "quiet")) print_banner();
  // The network, when the VM has a NIC: after the banner, so that its
  // console line follows it.
  if (auto* nic = drivers::virtio_net::probe()) net::init(*nic, os_internal::boot.cmdline);
  Service::start();
  eventloop::run();
}
