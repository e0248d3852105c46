// UDP (RFC 768; host rules RFC 1122 4.1): a table of sockets bound to local
// ports, each with a receive callback; checksums checked (a zero checksum
// means "none" and is accepted, 4.1.3.4) and always generated; ICMP port
// unreachable for datagrams to a port nobody has bound (4.1.3.1), with the
// "never about broadcasts" rules of the ICMP layer.
//
// Header (8 bytes): src port(2) dst port(2) length(2) checksum(2); the
// checksum covers a pseudo-header (src, dst, 0, 17, UDP length), the header
// and the data.
//
// Sending never loses a datagram silently: send_to() says at once when it
// could not go out (no route, no buffer, too big, device full), and a
// datagram that had to wait for ARP and was then dropped (no answer, queue
// overflow) reaches the socket's error callback with its destination.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "net/addresses.hpp"
#include "net/counters.hpp"
#include "net/ipv4.hpp"
#include "net/packet.hpp"
#include "net/stack.hpp"

namespace rz::net::udp {

inline constexpr std::size_t header_size = 8;
// The largest payload one datagram carries: 65535 - 20 (IP) - 8 (UDP).
inline constexpr std::size_t max_payload = ipv4::max_datagram_size - ipv4::min_header_size - 8;
// Ports bind(0) picks from (RFC 6335 dynamic range), at random (RFC 6056
// 3.3.1, so that replies are hard to forge: RFC 5452 for DNS).
inline constexpr std::uint16_t ephemeral_first = 49152;
inline constexpr std::uint16_t ephemeral_last = 65535;

struct Header {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint16_t length = 0;  // header + data
  std::uint16_t checksum = 0;

  enum class Error { truncated, bad_length, bad_checksum };
  // Validates the length (8 <= length <= the bytes there are) and, unless
  // it is zero, the checksum over the pseudo-header and `length` bytes.
  static std::optional<Header> parse(std::span<const std::uint8_t> bytes, Ipv4Address src,
                                     Ipv4Address dst, Error& why);
};

// The checksum of a whole UDP datagram (header with a zero checksum field,
// then data) between src and dst; 0 is sent as 0xffff (RFC 768).
std::uint16_t checksum(std::span<const std::uint8_t> datagram, Ipv4Address src, Ipv4Address dst);

}  // namespace rz::net::udp

namespace rz::net {

class Icmp;

// A received datagram as a socket sees it.
struct UdpDatagram {
  Ipv4Address src;
  std::uint16_t src_port = 0;
  Ipv4Address dst;  // ours, or a broadcast address
  std::uint16_t dst_port = 0;
  std::span<const std::uint8_t> data;  // valid during the callback only
  bool broadcast = false;
  std::uint64_t now_ms = 0;  // the stack's time at arrival (for replies)
};

class Udp;

class UdpSocket {
 public:
  using Receive = std::function<void(const UdpDatagram&)>;
  // A datagram that did not arrive: its destination, and why. Dropped after
  // it was queued for ARP: SendResult::no_route (no answer), ::no_buffer
  // (the queue overflowed), ::device_full. An ICMP error about it (RFC 1122
  // 4.1.3.3): ::port_unreachable, ::unreachable, ::time_exceeded,
  // ::parameter_problem, ::source_quench.
  using Error = std::function<void(Ipv4Address dst, std::uint16_t dst_port, SendResult why)>;

  std::uint16_t port() const { return port_; }
  bool is_open() const { return udp_ != nullptr; }
  void on_receive(Receive f) { receive_ = std::move(f); }
  void on_error(Error f) { error_ = std::move(f); }
  // Sends `data` from our address and this port (`src` 0.0.0.0: our address;
  // DHCP sends from 0.0.0.0 before it has one by passing it anyway).
  SendResult send_to(Ipv4Address dst, std::uint16_t dst_port, std::span<const std::uint8_t> data,
                     std::uint64_t now);
  SendResult send_to_from(Ipv4Address src, Ipv4Address dst, std::uint16_t dst_port,
                          std::span<const std::uint8_t> data, std::uint64_t now);
  // Unbinds the port; the object stays valid (is_open() false) until the
  // Udp layer reuses it for a later bind.
  void close();

  struct Stats {
    std::uint64_t rx_datagrams = 0, rx_bytes = 0, tx_datagrams = 0, tx_bytes = 0;
    std::uint64_t tx_failed = 0;  // send_to said no, or on_error said it later
  };
  const Stats& stats() const { return stats_; }

 private:
  friend class Udp;
  Udp* udp_ = nullptr;
  std::uint16_t port_ = 0;
  Receive receive_;
  Error error_;
  Stats stats_;
};

class Udp {
 public:
  static constexpr std::size_t max_sockets = 256;

  Udp(Ipv4& ipv4, Icmp& icmp, Counters& counters);

  // Binds `port` (0: a free ephemeral port); nullptr when the port is taken
  // or every socket is in use.
  UdpSocket* bind(std::uint16_t port);
  UdpSocket* find(std::uint16_t port);
  std::size_t bound() const { return bound_; }
  // Runs after every send (the stack arms its timers: ARP may be asking).
  void set_after_send(std::function<void()> f) { after_send_ = std::move(f); }
  // Random numbers in [0, n), for ephemeral ports (none: in order).
  void set_random(std::function<std::uint64_t(std::uint64_t)> f) { random_ = std::move(f); }

  // The protocol handler (registered for protocol 17).
  void input(const Ipv4Input& in, PacketPtr packet, std::uint64_t now);
  // A datagram the ARP layer dropped after queueing it (see Arp::set_drop_hook).
  void dropped(std::span<const std::uint8_t> ip_datagram, SendResult why);
  // An ICMP error about a datagram we sent (see Icmp::set_error_handler).
  void icmp_error(std::uint8_t type, std::uint8_t code, std::span<const std::uint8_t> quote);

 private:
  friend class UdpSocket;
  SendResult send(UdpSocket& s, Ipv4Address src, Ipv4Address dst, std::uint16_t dst_port,
                  std::span<const std::uint8_t> data, std::uint64_t now);
  void unbind(UdpSocket& s);

  Ipv4& ipv4_;
  Icmp& icmp_;
  Counters& counters_;
  std::array<UdpSocket, max_sockets> sockets_;
  std::size_t bound_ = 0;
  std::uint16_t next_ephemeral_ = 0;  // without random_: the next offset in the range
  std::function<void()> after_send_;
  std::function<std::uint64_t(std::uint64_t)> random_;
};

}  // namespace rz::net
