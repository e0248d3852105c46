#include "arch/x86_64/interrupts.hpp"

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/crash.hpp"

namespace rz::interrupts {
namespace {

Handler handlers[256];
std::uint8_t next_vector = first_device_vector;
std::uint64_t unexpected = 0;

}  // namespace

void set_handler(std::uint8_t vector, Handler handler) {
  handlers[vector] = handler;
}

std::uint8_t allocate_vector() {
  return next_vector < spurious_vector ? next_vector++ : 0;
}

std::uint64_t unexpected_count() {
  return unexpected;
}

}  // namespace rz::interrupts

extern "C" void interrupt_dispatch(rz::cpu::InterruptFrame* frame) {
  using namespace rz;
  std::uint64_t v = frame->vector & 0xFF;
  if (v < 32) crash::cpu_exception(*frame);
  if (v == interrupts::spurious_vector) return;  // no EOI for spurious interrupts
  if (interrupts::handlers[v])
    interrupts::handlers[v]();
  else
    ++interrupts::unexpected;
  apic::eoi();
}
