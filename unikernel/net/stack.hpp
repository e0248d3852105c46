// The network stack of one interface: configuration, the layers, and the
// counters. The kernel creates it at boot when it finds a NIC; the agent and
// (later) the socket API reach it through rz::net::stack().
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>

#include "net/addresses.hpp"
#include "net/nic.hpp"

namespace rz::net {

// TCP's tunables; each is "tcp_<name>=" on the command line (see stack.cpp's
// table for units and ranges).
struct TcpConfig {
  std::uint32_t rcvbuf = 256 * 1024;    // receive buffer (the most window we offer)
  std::uint32_t sndbuf = 256 * 1024;    // send buffer
  std::uint32_t msl_ms = 30'000;        // TIME-WAIT lasts 2 MSL (60 s, as on Linux)
  std::uint32_t rto_min_ms = 1000;      // RFC 6298 2.4 SHOULD (Linux: 200 ms)
  std::uint32_t rto_max_ms = 60'000;    // RFC 6298 2.5
  std::uint32_t rto_initial_ms = 1000;  // RFC 6298 2.1
  std::uint32_t delack_ms = 200;        // RFC 1122 4.2.3.2: at most 500 ms
  std::uint32_t syn_retries = 7;        // 1+2+...+64 s, gives up after 255 s (MUST-23: >= 3 min)
  std::uint32_t retries = 15;           // data retransmissions before giving up (R2)
  std::uint32_t syn_backlog = 64;       // half-open connections per listener before cookies
  std::uint32_t max_connections = 1024;
  std::uint32_t challenge_ack_limit = 100;  // per second, all connections (RFC 5961 7)
  bool timestamps = true;                   // RFC 7323
  bool window_scaling = true;               // RFC 7323
  bool syncookies = true;
};

struct Config {
  MacAddress mac;       // the NIC's, or "mac=" from the command line
  Ipv4Address address;  // "ip=10.33.0.2/24"; 0.0.0.0 when unset
  std::uint8_t prefix = 0;
  Ipv4Address gateway;                     // "gw=10.33.0.1"; 0.0.0.0 when unset
  std::uint32_t arp_ttl_ms = 60'000;       // "arp_ttl=" seconds
  std::uint32_t ipfrag_time_ms = 30'000;   // "ipfrag_time=" seconds
  std::uint32_t icmp_ratelimit_ms = 1000;  // "icmp_ratelimit=" ms between errors after a burst
  bool dhcp = false;                       // "ip=dhcp": address, prefix, gateway from DHCP
  Ipv4Address dhcp_fallback;               // "dhcp_fallback=A/P": used when DHCP gets no lease
  std::uint8_t dhcp_fallback_prefix = 0;
  std::uint32_t dhcp_timeout_ms = 30'000;  // "dhcp_timeout=" seconds before the fallback
  std::uint32_t dhcp_delay_ms = 0;         // "dhcp_delay=" most seconds before the first DISCOVER
  std::uint8_t arp_probes = 3;             // "arp_probes=" before using a leased address (RFC 5227)
  Ipv4Address nameserver;                  // "nameserver=": DNS server (else the lease's)
  std::uint64_t seed = 0;                  // for random numbers; the kernel's TSC at boot
  TcpConfig tcp;
  // Parses the command line (bad values: one line on the console, default kept).
  static Config from_cmdline(std::string_view cmdline, MacAddress nic_mac);
};

struct ArpEntryView {
  Ipv4Address ip;
  MacAddress mac;  // zero while incomplete
  bool resolved;
  std::uint64_t age_ms;  // since the entry was last confirmed
  std::size_t queued;    // packets waiting for the resolution
};

class Stack;
// Creates the stack on `nic` (kernel boot); announces the address (RFC 5227
// gratuitous ARP) when one is configured.
void init(Nic& nic, std::string_view cmdline);
// The stack, or nullptr when the VM has no NIC.
Stack* stack();

class Stack {
 public:
  virtual ~Stack() = default;
  virtual const Config& config() const = 0;
  // Every counter, by name ("ipv4.rx.drop.bad_checksum", ...), zeros included.
  virtual void for_each_counter(
      const std::function<void(std::string_view name, std::uint64_t value)>& f) const = 0;
  virtual void for_each_arp_entry(const std::function<void(const ArpEntryView&)>& f) const = 0;
};

}  // namespace rz::net
