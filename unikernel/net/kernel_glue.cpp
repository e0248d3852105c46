// The stack in the kernel: the clock (os::uptime), the housekeeping timer
// (os::Timers) and the console. Kernel build only; the core in
// stack_core.hpp knows nothing of these.
#include <chrono>
#include <ringzero/net.hpp>
#include <ringzero/os.hpp>
#include <ringzero/tcp.hpp>
#include <ringzero/timer.hpp>

#include "arch/x86_64/clock.hpp"
#include "kernel/console.hpp"
#include "net/stack_core.hpp"

namespace rz::net {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(os::uptime()).count());
}

namespace {

StackCore* the_stack = nullptr;
// One timer, armed for when the stack next has timed work (every tick_ms
// while ARP or reassembly is busy; a DHCP renewal may be an hour away), and
// none when it has none, so that an idle VM sleeps.
os::Timers::id_t timer = 0;
std::uint64_t timer_due = 0;

void arm();

void on_timer() {
  timer = 0;
  the_stack->tick(now_ms());
  arm();
}

void arm() {
  std::uint64_t now = now_ms();
  std::uint64_t due = the_stack->next_due(now);
  if (timer && timer_due <= due) return;  // an earlier (or the same) wake-up stands
  if (timer) os::Timers::stop(timer);
  timer = 0;
  if (due == ~0ull) return;
  timer_due = due;
  timer = os::Timers::oneshot(std::chrono::milliseconds(due > now ? due - now : 0), on_timer);
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
  the_stack->set_wakeup(arm);
  the_stack->tcp().set_clock(now_ms);
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

UdpSocket* udp_bind(std::uint16_t port) {
  return the_stack ? the_stack->udp_bind(port) : nullptr;
}

void on_configured(std::function<void()> f) {
  if (the_stack) the_stack->on_configured(std::move(f));
}

std::optional<DnsResolver::Error> resolve(std::string_view name, DnsResolver::Callback done) {
  if (!the_stack) return DnsResolver::Error::unreachable;
  return the_stack->resolve(name, now_ms(), std::move(done));
}

bool tcp_listen(std::uint16_t port, Tcp::Accept on_accept, std::size_t backlog) {
  return the_stack && the_stack->tcp().listen(port, std::move(on_accept), backlog);
}

void tcp_unlisten(std::uint16_t port) {
  if (the_stack) the_stack->tcp().unlisten(port);
}

TcpConnection::Ptr tcp_connect(Ipv4Address dst, std::uint16_t port, std::uint16_t local_port) {
  return the_stack ? the_stack->tcp().connect(dst, port, local_port) : nullptr;
}

StackCore* stack_core() {
  return the_stack;
}

}  // namespace rz::net
