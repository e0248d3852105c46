// The stack in the kernel: the clock (os::uptime), the housekeeping timer
// (os::Timers) and the console. Kernel build only; the core in
// stack_core.hpp knows nothing of these.
#include <chrono>
#include <ringzero/os.hpp>
#include <ringzero/timer.hpp>

#include "arch/x86_64/clock.hpp"
#include "kernel/console.hpp"
#include "net/stack_core.hpp"

namespace rz::net {
namespace {

StackCore* the_stack = nullptr;
// The housekeeping timer runs only while the stack has timed work, so that
// an idle VM sleeps.
os::Timers::id_t tick_timer = 0;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(os::uptime()).count());
}

void on_tick() {
  the_stack->tick(now_ms());
  if (!the_stack->needs_tick() && tick_timer) {
    os::Timers::stop(tick_timer);
    tick_timer = 0;
  }
}

void wake_up() {
  if (!tick_timer) {
    auto period = std::chrono::milliseconds(StackCore::tick_ms);
    tick_timer = os::Timers::periodic(period, on_tick);
  }
}

void console_line(std::string_view line) {
  console::print("%.*s\n", int(line.size()), line.data());
}

}  // namespace

void init(Nic& nic, std::string_view cmdline) {
  if (the_stack) return;
  set_log_sink(console_line);
  Config config = Config::from_cmdline(cmdline, nic.mac());
  // Random numbers (DHCP xids and backoff, ARP probe timing) differ per
  // boot: the TSC's low bits vary with everything before this point.
  config.seed = clock::rdtsc() * 0x9E3779B97F4A7C15ull;
  the_stack = new StackCore(nic, config);
  nic.set_receive_handler([](PacketPtr frame) { the_stack->input(std::move(frame), now_ms()); });
  the_stack->set_wakeup(wake_up);
  the_stack->start(now_ms());
  std::string address = config.address.to_string();
  std::string gateway = config.gateway.to_string();
  std::string mac = config.mac.to_string();
  if (config.dhcp)
    console::print("net: ip dhcp mac %s\n", mac.c_str());
  else
    console::print("net: ip %s/%u gw %s mac %s\n", address.c_str(), unsigned(config.prefix),
                   gateway.c_str(), mac.c_str());
}

Stack* stack() {
  return the_stack;
}

StackCore* stack_core() {
  return the_stack;
}

}  // namespace rz::net
