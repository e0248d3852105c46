// IPv4 (RFC 791; host requirements RFC 1122 3.2.1, 3.3): header view,
// input validation and dispatch to a small protocol table, routing on one
// interface (on-link or via the gateway), and output with fragmentation.
//
// Input order: Ethernet -> Ipv4::input -> (reassembly) -> the protocol's
// handler. Output: Ipv4::send -> route -> Arp::send_ipv4 -> Ethernet.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "net/addresses.hpp"
#include "net/counters.hpp"
#include "net/ethernet.hpp"
#include "net/ipv4_reassembly.hpp"
#include "net/packet.hpp"
#include "net/stack.hpp"

namespace rz::net::ipv4 {

inline constexpr std::size_t min_header_size = 20;
inline constexpr std::size_t max_header_size = 60;
inline constexpr std::size_t max_datagram_size = 65535;
inline constexpr std::uint8_t default_ttl = 64;  // RFC 1700 / Linux default
inline constexpr std::uint8_t proto_icmp = 1;
inline constexpr std::uint8_t proto_tcp = 6;
inline constexpr std::uint8_t proto_udp = 17;

struct Header {
  std::uint8_t header_size = min_header_size;  // IHL * 4
  std::uint8_t tos = 0;
  std::uint16_t total_length = 0;
  std::uint16_t id = 0;
  bool df = false;
  bool mf = false;
  std::uint16_t fragment_offset = 0;  // in bytes (the field times 8)
  std::uint8_t ttl = default_ttl;
  std::uint8_t protocol = 0;
  Ipv4Address src;
  Ipv4Address dst;

  bool is_fragment() const { return mf || fragment_offset != 0; }

  enum class Error { truncated, bad_version, bad_ihl, bad_checksum, bad_length };
  // RFC 1122 3.2.1.1-3.2.1.2: version 4, IHL >= 5, a correct checksum,
  // IHL * 4 <= total length <= the bytes there are. Checks in that order.
  static std::optional<Header> parse(std::span<const std::uint8_t> bytes, Error& why);
  // Writes a 20-byte header (no options) with its checksum.
  void emit(std::span<std::uint8_t> out) const;
};

inline bool is_multicast(Ipv4Address a) {
  return (a.value >> 28) == 0xe;
}
inline bool is_loopback(Ipv4Address a) {
  return (a.value >> 24) == 127;
}

}  // namespace rz::net::ipv4

namespace rz::net {

class Arp;
class Icmp;

// A received datagram as a protocol handler sees it.
struct Ipv4Input {
  ipv4::Header header;                       // as received (reassembled: MF/offset 0)
  std::span<const std::uint8_t> raw_header;  // the header bytes, options included
  std::span<std::uint8_t> payload;           // the whole payload (writable)
  bool ip_broadcast = false;                 // to 255.255.255.255, the subnet broadcast, multicast
  bool link_broadcast = false;               // came in a broadcast/multicast frame
  bool reassembled = false;
};

// Why a datagram did not go out (SendResult::sent and ::queued: it did, or
// will once ARP answers).
enum class SendResult : std::uint8_t {
  sent,         // handed to the device
  queued,       // waiting for ARP; a later drop reaches on_error
  no_route,     // no address yet, or off-link and no gateway
  no_buffer,    // the packet pool is empty
  too_big,      // bigger than a datagram can be
  device_full,  // the device's transmit queue is full
  closed,       // the socket is closed
  bad_address,  // destination 0.0.0.0 or port 0
  // Reported later, by an ICMP error about a datagram that went out
  // (RFC 1122 4.1.3.3):
  port_unreachable,   // destination unreachable, port unreachable
  unreachable,        // destination unreachable, any other code
  time_exceeded,      // TTL or reassembly time exceeded on the way
  parameter_problem,  // a router or the destination found the header bad
  source_quench,      // (deprecated by RFC 6633; passed on all the same)
};
const char* to_string(SendResult r);
inline bool ok(SendResult r) {
  return r == SendResult::sent || r == SendResult::queued;
}

// Options for Ipv4::send.
struct Ipv4SendOptions {
  std::uint8_t tos = 0;
  std::uint8_t ttl = ipv4::default_ttl;
};

class Ipv4 {
 public:
  // `packet` owns the buffer whose window is `in.payload`; it is null for a
  // reassembled datagram, whose bytes live in the stack's reassembly buffer
  // and are valid only during the call. A handler may keep the packet.
  using Handler = std::function<void(const Ipv4Input& in, PacketPtr packet, std::uint64_t now)>;
  static constexpr std::size_t max_protocols = 8;

  Ipv4(Arp& arp, Nic& nic, const Config& config, Counters& counters);

  void set_icmp(Icmp* icmp) { icmp_ = icmp; }
  // Registers the handler of an IP protocol (1 ICMP, 6 TCP, 17 UDP, ...);
  // replaces an earlier one; false when the table is full.
  bool register_protocol(std::uint8_t protocol, Handler handler);
  bool has_protocol(std::uint8_t protocol) const;

  // A frame's payload from the Ethernet layer.
  void input(PacketPtr packet, const FrameInfo& info, std::uint64_t now);

  // Sends `payload` (window = the transport header onwards, headroom for
  // IP + Ethernet + the driver) from `src` (0.0.0.0: our address) to `dst`;
  // fragments it when it is bigger than the MTU. Says what became of it
  // (failures are counted).
  SendResult send(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, PacketPtr payload,
                  std::uint64_t now, Ipv4SendOptions options = {});
  // The same from bytes anywhere (copied into packets from the pool; for
  // payloads bigger than one packet buffer, up to 65515 bytes).
  SendResult send(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                  std::span<const std::uint8_t> payload, std::uint64_t now,
                  Ipv4SendOptions options = {});

  // Our address (0.0.0.0 while unconfigured), the MTU, the packet pool.
  Ipv4Address source_address() const { return config_.address; }
  std::size_t mtu() const { return nic_.mtu(); }
  PacketPool& pool() { return nic_.pool(); }

  // Reassembly timeouts.
  void tick(std::uint64_t now);
  std::size_t reassemblies_in_progress() const { return reassembler_.in_progress(); }

  // Whether `a` is a broadcast address of our subnet or the limited one.
  bool is_broadcast(Ipv4Address a) const;
  // Whether `a` can be the source of a datagram from a host (not 0.0.0.0,
  // broadcast, multicast, loopback, class E).
  bool is_unicast_host(Ipv4Address a) const;

 private:
  struct Route {
    MacAddress mac;  // for broadcasts
    Ipv4Address next_hop;
    bool broadcast = false;
  };
  std::optional<Route> route(Ipv4Address dst) const;
  void deliver(const Ipv4Input& in, PacketPtr packet, std::uint64_t now);
  SendResult transmit(const Route& r, PacketPtr datagram, std::uint64_t now);
  Ipv4Address source_for(Ipv4Address src) const;

  Arp& arp_;
  Nic& nic_;
  const Config& config_;
  Counters& counters_;
  Icmp* icmp_ = nullptr;
  Reassembler reassembler_;
  struct Entry {
    std::uint8_t protocol = 0;
    Handler handler;
  };
  std::array<Entry, max_protocols> protocols_;
  std::size_t protocol_count_ = 0;
  std::uint16_t next_id_;
};

}  // namespace rz::net
