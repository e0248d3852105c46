// The stack of one interface, without I/O or a clock of its own: the kernel
// glue (kernel_glue.cpp) feeds it frames and a tick every ~100 ms with the
// time in milliseconds; host tests and the fuzzer do the same with a fake
// Nic and a fake clock.
//
// Layers, bottom up, each owning its file pair: Ethernet (ethernet.hpp),
// Arp (arp.hpp), Ipv4 (ipv4.hpp, with the Reassembler of
// ipv4_reassembly.hpp), Icmp (icmp.hpp), Udp (udp.hpp), Tcp (tcp.hpp); the DHCP client
// (dhcp.hpp) when the address comes from DHCP. Counters in counters.hpp.
//
// For the layers to come (TCP):
//   core.register_protocol(ipv4::proto_udp, [](const Ipv4Input& in, PacketPtr p,
//                                              std::uint64_t now) { ... });
//   core.send_ipv4(src, dst, ipv4::proto_udp, std::move(packet), now);
// The packet given to send_ipv4 has its window on the transport header and
// payload, with the default headroom in front (nic.pool().alloc() gives it).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "net/arp.hpp"
#include "net/counters.hpp"
#include "net/dhcp.hpp"
#include "net/dns_resolver.hpp"
#include "net/ethernet.hpp"
#include "net/icmp.hpp"
#include "net/ipv4.hpp"
#include "net/nic.hpp"
#include "net/stack.hpp"
#include "net/tcp.hpp"
#include "net/udp.hpp"

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

  // Announces the address (RFC 5227 2.3) if one is configured, or starts
  // the DHCP client.
  void start(std::uint64_t now_ms);
  // A received frame (window = the Ethernet frame).
  void input(PacketPtr frame, std::uint64_t now_ms);
  // Timers: ARP retries and expiry, announcements, reassembly timeouts.
  void tick(std::uint64_t now_ms);
  // Whether tick() has work pending every tick_ms (ARP, reassembly).
  bool needs_tick() const;
  // When tick() next has something to do: now + tick_ms while needs_tick(),
  // else the DHCP client's next timer, else never (~0). The driver of tick()
  // sleeps until then or until the wake-up callback (an idle VM sleeps).
  std::uint64_t next_due(std::uint64_t now_ms) const;
  // Called after start(), input() or send_ipv4(): work may be due sooner.
  void set_wakeup(std::function<void()> wakeup) { wakeup_ = std::move(wakeup); }

  // The protocol table of the IP layer (see Ipv4::register_protocol).
  bool register_protocol(std::uint8_t protocol, Ipv4::Handler handler) {
    return ipv4_.register_protocol(protocol, std::move(handler));
  }
  // Sends an IPv4 datagram (see Ipv4::send); src 0.0.0.0 means ours.
  SendResult send_ipv4(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, PacketPtr payload,
                       std::uint64_t now_ms, Ipv4SendOptions options = {}) {
    SendResult sent = ipv4_.send(src, dst, protocol, std::move(payload), now_ms, options);
    poke();
    return sent;
  }
  SendResult send_ipv4(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                       std::span<const std::uint8_t> payload, std::uint64_t now_ms,
                       Ipv4SendOptions options = {}) {
    SendResult sent = ipv4_.send(src, dst, protocol, payload, now_ms, options);
    poke();
    return sent;
  }

  // Binds a UDP port (see Udp::bind); sends through the socket should be
  // followed by poke() when made outside input()/tick() (the kernel's
  // udp_send helpers do that).
  UdpSocket* udp_bind(std::uint16_t port) { return udp_.bind(port); }
  // TCP (see Tcp): the layer's clock is the stack's latest time unless the
  // driver sets one (the kernel glue sets the real clock).
  Tcp& tcp() { return tcp_; }
  // Applies an address (0.0.0.0 takes it away), prefix and gateway; a new
  // address is announced (RFC 5227 2.3) and wakes on_configured waiters.
  void configure(Ipv4Address address, std::uint8_t prefix, Ipv4Address gateway,
                 std::uint64_t now_ms);
  bool configured() const { return config_.address != Ipv4Address::any(); }
  // Runs `f` once the interface has an address (at once if it has one).
  void on_configured(std::function<void()> f);
  // Looks up the A record of `name` with the name server of the
  // configuration ("nameserver="), else the DHCP lease's first (see
  // DnsResolver::resolve; unreachable when there is none).
  std::optional<DnsResolver::Error> resolve(std::string_view name, std::uint64_t now_ms,
                                            DnsResolver::Callback done);
  // Random numbers in [0, n) (splitmix64 from Config::seed and the MAC).
  std::uint64_t random(std::uint64_t n);
  // Call after sending from outside input()/tick(): wakes the tick driver
  // when there is timed work (ARP resolution) now.
  void poke() {
    if (wakeup_) wakeup_();
  }

  Nic& nic() { return nic_; }
  Ethernet& ethernet() { return ethernet_; }
  Arp& arp() { return arp_; }
  Ipv4& ipv4() { return ipv4_; }
  Icmp& icmp() { return icmp_; }
  Udp& udp() { return udp_; }
  // The DHCP client, when the address comes from DHCP.
  Dhcp* dhcp() { return dhcp_.get(); }
  // The resolver of resolve(), once it has been used.
  DnsResolver* resolver() { return resolver_.get(); }
  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }

  // Stack
  const Config& config() const override { return config_; }
  void for_each_counter(
      const std::function<void(std::string_view name, std::uint64_t value)>& f) const override;
  void for_each_arp_entry(const std::function<void(const ArpEntryView&)>& f) const override;

 private:
  Nic& nic_;
  Config config_;
  Counters counters_;
  std::uint64_t now_ms_ = 0;  // the latest time seen, for ages in views
  Ethernet ethernet_;
  Arp arp_;
  Ipv4 ipv4_;
  Icmp icmp_;
  Udp udp_;
  Tcp tcp_;
  std::unique_ptr<Dhcp> dhcp_;
  std::unique_ptr<DnsResolver> resolver_;
  std::uint64_t random_state_;
  std::vector<std::function<void()>> configured_waiters_;
  std::function<void()> wakeup_;
};

// The kernel's stack as a StackCore (what rz::net::stack() returns), or
// nullptr; defined by the kernel glue.
StackCore* stack_core();

}  // namespace rz::net
