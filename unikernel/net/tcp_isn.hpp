// Initial sequence numbers (RFC 6528) and SYN cookies.
//
// ISN = M + F(local ip, local port, remote ip, remote port, secret): M a
// clock ticking every 4 microseconds (RFC 9293 3.4.1), F SipHash-2-4 keyed
// with a secret drawn at boot, so that ISNs of different connections are
// unpredictable from outside while those of one 4-tuple keep increasing.
//
// A SYN cookie is the ISN of a SYN-ACK sent without keeping any state, used
// when a listener's backlog of half-open connections is full: the top 5
// bits count 64-second periods, the next 3 index the MSS the peer offered
// (rounded down to a table), the low 24 bits are a keyed hash of the 4-tuple,
// the peer's ISN, the period and the MSS index. The ACK that completes the
// handshake (ack = cookie + 1) is checked against the current and the
// previous period.
#pragma once
#include <cstdint>
#include <optional>

#include "net/addresses.hpp"

namespace rz::net::tcp {

struct FourTuple {
  Ipv4Address local;
  std::uint16_t local_port = 0;
  Ipv4Address remote;
  std::uint16_t remote_port = 0;
};

// SipHash-2-4 of two 64-bit words with a 128-bit key.
std::uint64_t siphash(std::uint64_t k0, std::uint64_t k1, std::uint64_t m0, std::uint64_t m1);

class IsnGenerator {
 public:
  // The secrets come from the stack's random numbers at boot.
  IsnGenerator(std::uint64_t k0, std::uint64_t k1, std::uint64_t k2, std::uint64_t k3)
      : k0_(k0), k1_(k1), k2_(k2), k3_(k3) {}

  // RFC 6528 3; `now_us` is the stack's clock in microseconds.
  std::uint32_t isn(const FourTuple& t, std::uint64_t now_us) const;

  // The cookie for a SYN from `t` with sequence number `peer_isn` offering
  // `mss`; `mss_used` gets the MSS the cookie stands for.
  std::uint32_t cookie(const FourTuple& t, std::uint32_t peer_isn, std::uint16_t mss,
                       std::uint64_t now_ms, std::uint16_t& mss_used) const;
  // Checks the ACK of a cookie handshake (seq = peer_isn + 1, ack = cookie
  // + 1); the MSS the cookie stood for, or nullopt.
  std::optional<std::uint16_t> check_cookie(const FourTuple& t, std::uint32_t seq,
                                            std::uint32_t ack, std::uint64_t now_ms) const;

 private:
  std::uint32_t cookie_hash(const FourTuple& t, std::uint32_t peer_isn, unsigned period,
                            unsigned mss_index) const;
  std::uint64_t k0_, k1_, k2_, k3_;
};

}  // namespace rz::net::tcp
