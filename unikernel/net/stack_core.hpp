// The stack of one interface, without I/O or a clock of its own: the kernel
// glue (kernel_glue.cpp) feeds it frames and a tick every ~100 ms with the
// time in milliseconds; host tests and the fuzzer do the same with a fake
// Nic and a fake clock.
//
// Layers, bottom up, each owning its file pair: Ethernet (ethernet.hpp),
// Arp (arp.hpp), Ipv4 (ipv4.hpp, with the Reassembler of
// ipv4_reassembly.hpp), Icmp (icmp.hpp). Counters in counters.hpp.
//
// For the layers to come (UDP, TCP):
//   core.register_protocol(ipv4::proto_udp, [](const Ipv4Input& in, PacketPtr p,
//                                              std::uint64_t now) { ... });
//   core.send_ipv4(src, dst, ipv4::proto_udp, std::move(packet), now);
// The packet given to send_ipv4 has its window on the transport header and
// payload, with the default headroom in front (nic.pool().alloc() gives it).
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "net/arp.hpp"
#include "net/counters.hpp"
#include "net/ethernet.hpp"
#include "net/icmp.hpp"
#include "net/ipv4.hpp"
#include "net/nic.hpp"
#include "net/stack.hpp"

namespace rz::net {

// Where the stack's few log lines go (Config::from_cmdline's complaints);
// the kernel glue points it at the console. Nothing by default.
using LogSink = void (*)(std::string_view line);
void set_log_sink(LogSink sink);
void log_line(std::string_view line);

class StackCore final : public Stack {
 public:
  // Housekeeping period the driver of tick() should keep to.
  static constexpr std::uint64_t tick_ms = 100;

  StackCore(Nic& nic, const Config& config);
  StackCore(const StackCore&) = delete;
  StackCore& operator=(const StackCore&) = delete;

  // Announces the address (RFC 5227 2.3) if one is configured.
  void start(std::uint64_t now_ms);
  // A received frame (window = the Ethernet frame).
  void input(PacketPtr frame, std::uint64_t now_ms);
  // Timers: ARP retries and expiry, announcements, reassembly timeouts.
  void tick(std::uint64_t now_ms);
  // Whether tick() has work pending; when not, the driver of tick() may
  // stop until the wake-up callback says otherwise (an idle VM sleeps).
  bool needs_tick() const;
  // Called after start(), input() or send_ipv4() when needs_tick() holds.
  void set_wakeup(std::function<void()> wakeup) { wakeup_ = std::move(wakeup); }

  // The protocol table of the IP layer (see Ipv4::register_protocol).
  bool register_protocol(std::uint8_t protocol, Ipv4::Handler handler) {
    return ipv4_.register_protocol(protocol, std::move(handler));
  }
  // Sends an IPv4 datagram (see Ipv4::send); src 0.0.0.0 means ours.
  bool send_ipv4(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, PacketPtr payload,
                 std::uint64_t now_ms, Ipv4SendOptions options = {}) {
    bool sent = ipv4_.send(src, dst, protocol, std::move(payload), now_ms, options);
    poke();
    return sent;
  }
  bool send_ipv4(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                 std::span<const std::uint8_t> payload, std::uint64_t now_ms,
                 Ipv4SendOptions options = {}) {
    bool sent = ipv4_.send(src, dst, protocol, payload, now_ms, options);
    poke();
    return sent;
  }

  Nic& nic() { return nic_; }
  Ethernet& ethernet() { return ethernet_; }
  Arp& arp() { return arp_; }
  Ipv4& ipv4() { return ipv4_; }
  Icmp& icmp() { return icmp_; }
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }

  // Stack
  const Config& config() const override { return config_; }
  void for_each_counter(
      const std::function<void(std::string_view name, std::uint64_t value)>& f) const override;
  void for_each_arp_entry(const std::function<void(const ArpEntryView&)>& f) const override;

 private:
  void poke() {
    if (wakeup_ && needs_tick()) wakeup_();
  }

  Nic& nic_;
  Config config_;
  Counters counters_;
  std::uint64_t now_ms_ = 0;  // the latest time seen, for ages in views
  Ethernet ethernet_;
  Arp arp_;
  Ipv4 ipv4_;
  Icmp icmp_;
  std::function<void()> wakeup_;
};

// The kernel's stack as a StackCore (what rz::net::stack() returns), or
// nullptr; defined by the kernel glue.
StackCore* stack_core();

}  // namespace rz::net
