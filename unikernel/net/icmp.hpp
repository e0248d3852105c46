// ICMP for IPv4 (RFC 792; host rules RFC 1122 3.2.2): echo replies and the
// errors the IP layer asks for, with the "never send an error about" rules
// of RFC 1122 3.2.2 and a per-destination token bucket (RFC 1812 4.3.2.8,
// the way Linux limits: a burst of 6, then one per Config::icmp_ratelimit_ms).
//
// Message view: type(1) code(1) checksum(2) rest-of-header(4) data; the
// checksum covers the whole message.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "net/addresses.hpp"
#include "net/counters.hpp"
#include "net/ipv4.hpp"
#include "net/packet.hpp"
#include "net/stack.hpp"

namespace rz::net::icmp {

inline constexpr std::size_t header_size = 8;
inline constexpr std::uint8_t type_echo_reply = 0;
inline constexpr std::uint8_t type_dest_unreachable = 3;
inline constexpr std::uint8_t type_source_quench = 4;
inline constexpr std::uint8_t type_redirect = 5;
inline constexpr std::uint8_t type_echo_request = 8;
inline constexpr std::uint8_t type_time_exceeded = 11;
inline constexpr std::uint8_t type_parameter_problem = 12;
inline constexpr std::uint8_t code_protocol_unreachable = 2;
inline constexpr std::uint8_t code_port_unreachable = 3;
inline constexpr std::uint8_t code_reassembly_time_exceeded = 1;
// RFC 1812 4.3.2.3: an error datagram is at most 576 bytes.
inline constexpr std::size_t max_error_datagram = 576;

// Whether `type` is an error message (or unknown, which Linux treats alike
// when deciding whether an error may be sent about it).
bool is_error_or_unknown(std::uint8_t type);

}  // namespace rz::net::icmp

namespace rz::net {

class Icmp {
 public:
  static constexpr std::size_t ratelimit_peers = 16;
  static constexpr std::uint64_t ratelimit_burst = 6;

  // The datagram an error is about: its IP header and as much of its data
  // as is at hand.
  struct Offending {
    std::span<const std::uint8_t> datagram;
    bool link_broadcast = false;
    bool ip_broadcast = false;  // sent to a broadcast or multicast address
  };

  // An ICMP error about a datagram we sent: its type, code, and the quoted
  // datagram (its IP header and at least 8 bytes of its data).
  using ErrorHandler = std::function<void(std::uint8_t type, std::uint8_t code,
                                          std::span<const std::uint8_t> quote, std::uint64_t now)>;
  static constexpr std::size_t max_error_handlers = 4;

  Icmp(Ipv4& ipv4, const Config& config, Counters& counters);

  // Where errors about datagrams of `protocol` go (RFC 1122 3.2.2, 4.1.3.3:
  // the transport passes them to the application). False when full.
  bool set_error_handler(std::uint8_t protocol, ErrorHandler handler);

  // The protocol handler (registered for protocol 1).
  void input(const Ipv4Input& in, PacketPtr packet, std::uint64_t now);
  // Sends an error about `off` unless RFC 1122 3.2.2 forbids it or the
  // rate limit holds it back (both counted). True when sent.
  bool send_error(std::uint8_t type, std::uint8_t code, const Offending& off, std::uint64_t now);

 private:
  bool allow(Ipv4Address dst, std::uint64_t now);
  void echo_reply(const Ipv4Input& in, PacketPtr packet, std::uint64_t now);
  void error_input(std::span<const std::uint8_t> msg, std::uint64_t now);

  Ipv4& ipv4_;
  const Config& config_;
  Counters& counters_;
  struct Bucket {
    Ipv4Address peer;
    std::uint64_t tokens = 0;  // in ms of credit
    std::uint64_t last_ms = 0;
    bool used = false;
  };
  std::array<Bucket, ratelimit_peers> buckets_;
  struct ErrorEntry {
    std::uint8_t protocol = 0;
    ErrorHandler handler;
  };
  std::array<ErrorEntry, max_error_handlers> error_handlers_;
  std::array<std::uint8_t, icmp::max_error_datagram> scratch_{};
};

}  // namespace rz::net
