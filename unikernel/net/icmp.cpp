// ICMP echo and errors (see icmp.hpp).
#include "net/icmp.hpp"

#include <algorithm>
#include <cstring>

#include "net/bytes.hpp"
#include "net/checksum.hpp"

namespace rz::net::icmp {

bool is_error_or_unknown(std::uint8_t type) {
  switch (type) {
    case 0:   // echo reply
    case 8:   // echo request
    case 9:   // router advertisement
    case 10:  // router solicitation
    case 13:  // timestamp
    case 14:  // timestamp reply
    case 15:  // information request
    case 16:  // information reply
    case 17:  // address mask request
    case 18:  // address mask reply
      return false;
    default:
      return true;
  }
}

}  // namespace rz::net::icmp

namespace rz::net {

Icmp::Icmp(Ipv4& ipv4, const Config& config, Counters& counters)
    : ipv4_(ipv4), config_(config), counters_(counters) {}

bool Icmp::set_error_handler(std::uint8_t protocol, ErrorHandler handler) {
  for (auto& e : error_handlers_) {
    if (e.handler && e.protocol != protocol) continue;
    e.protocol = protocol;
    e.handler = std::move(handler);
    return true;
  }
  return false;
}

void Icmp::error_input(std::span<const std::uint8_t> msg, std::uint64_t now) {
  // RFC 792: the quote is the offending datagram's IP header and at least
  // its first 8 bytes of data; it must be one of ours (RFC 5927 4.1: check
  // what can be checked before believing an error).
  auto quote = msg.subspan(icmp::header_size);
  if (quote.size() < ipv4::min_header_size || (quote[0] >> 4) != 4) {
    ++counters_.icmp_rx_drop_bad_quote;
    return;
  }
  std::size_t ihl = std::size_t(quote[0] & 0x0f) * 4;
  if (ihl < ipv4::min_header_size || quote.size() < ihl + 8 ||
      Ipv4Address{load32(quote.data() + 12)} != config_.address) {
    ++counters_.icmp_rx_drop_bad_quote;
    return;
  }
  for (auto& e : error_handlers_) {
    if (e.handler && e.protocol == quote[9]) return e.handler(msg[0], msg[1], quote, now);
  }
}
void Icmp::input(const Ipv4Input& in, PacketPtr packet, std::uint64_t now) {
  ++counters_.icmp_rx_messages;
  auto msg = in.payload;
  if (msg.size() < icmp::header_size) {
    ++counters_.icmp_rx_drop_truncated;
    return;
  }
  // RFC 792: the checksum covers the whole message.
  if (internet_checksum(msg) != 0) {
    ++counters_.icmp_rx_drop_bad_checksum;
    return;
  }
  switch (msg[0]) {
    case icmp::type_echo_request:
      ++counters_.icmp_rx_echo_requests;
      // RFC 1122 3.2.2.6: an echo to a broadcast or multicast address MAY
      // be discarded; Linux does (icmp_echo_ignore_broadcasts=1).
      if (in.ip_broadcast) {
        ++counters_.icmp_rx_drop_broadcast_echo;
        return;
      }
      return echo_reply(in, std::move(packet), now);
    case icmp::type_echo_reply:
      ++counters_.icmp_rx_echo_replies;
      return;
    case icmp::type_dest_unreachable:
    case icmp::type_source_quench:
    case icmp::type_time_exceeded:
    case icmp::type_parameter_problem:
      ++counters_.icmp_rx_errors;
      return error_input(msg, now);
    case icmp::type_redirect:
      // A host with one interface and one gateway has nothing to redirect.
      ++counters_.icmp_rx_errors;
      return;
    default:
      // RFC 1122 3.2.2: unknown types are silently discarded.
      ++counters_.icmp_rx_other;
      return;
  }
}

void Icmp::echo_reply(const Ipv4Input& in, PacketPtr packet, std::uint64_t now) {
  // RFC 1122 3.2.2.6: the reply goes back to the request's source from the
  // address it was sent to, with the same identifier, sequence and data.
  if (!ipv4_.is_unicast_host(in.header.src)) {
    ++counters_.icmp_tx_suppressed;
    return;
  }
  auto msg = in.payload;
  msg[0] = icmp::type_echo_reply;
  msg[1] = 0;
  store16(msg.data() + 2, 0);
  store16(msg.data() + 2, internet_checksum(msg));
  Ipv4SendOptions options{in.header.tos, ipv4::default_ttl};
  SendResult sent = packet ? ipv4_.send(in.header.dst, in.header.src, ipv4::proto_icmp,
                                        std::move(packet), now, options)
                           : ipv4_.send(in.header.dst, in.header.src, ipv4::proto_icmp,
                                        std::span<const std::uint8_t>(msg), now, options);
  if (ok(sent)) ++counters_.icmp_tx_echo_replies;
}

bool Icmp::allow(Ipv4Address peer, std::uint64_t now) {
  const std::uint64_t cost = config_.icmp_ratelimit_ms;
  if (cost == 0) return true;
  const std::uint64_t cap = ratelimit_burst * cost;
  Bucket* b = nullptr;
  for (auto& x : buckets_) {
    if (x.used && x.peer == peer) {
      b = &x;
      break;
    }
  }
  if (!b) {
    // A new peer starts with a full bucket; it replaces the one idle longest.
    b = &buckets_[0];
    for (auto& x : buckets_) {
      if (!x.used) {
        b = &x;
        break;
      }
      if (x.last_ms < b->last_ms) b = &x;
    }
    *b = Bucket{peer, cap, now, true};
  }
  b->tokens = std::min(cap, b->tokens + (now - b->last_ms));
  b->last_ms = now;
  if (b->tokens < cost) return false;
  b->tokens -= cost;
  return true;
}

bool Icmp::send_error(std::uint8_t type, std::uint8_t code, const Offending& off,
                      std::uint64_t now) {
  auto d = off.datagram;
  std::size_t hs = d.size() >= ipv4::min_header_size ? (d[0] & 0xf) * 4u : 0;
  // RFC 1122 3.2.2: never about a datagram to a broadcast or multicast
  // address (IP or link layer), a non-initial fragment, a source that is not
  // one host, or an ICMP error message.
  bool forbidden =
      hs < ipv4::min_header_size || d.size() < hs || off.link_broadcast || off.ip_broadcast;
  if (!forbidden) {
    Ipv4Address src{load32(d.data() + 12)};
    bool later_fragment = (load16(d.data() + 6) & 0x1fff) != 0;
    bool about_error =
        d[9] == ipv4::proto_icmp && (d.size() <= hs || icmp::is_error_or_unknown(d[hs]));
    forbidden = later_fragment || about_error || !ipv4_.is_unicast_host(src);
  }
  if (forbidden) {
    ++counters_.icmp_tx_suppressed;
    return false;
  }
  Ipv4Address offender{load32(d.data() + 12)};
  Ipv4Address local{load32(d.data() + 16)};
  if (!allow(offender, now)) {
    ++counters_.icmp_tx_ratelimited;
    return false;
  }
  // The IP header and as much of the data as fits in 576 bytes (RFC 1812
  // 4.3.2.3; RFC 792 asks for at least the first 8 data bytes).
  std::size_t quote =
      std::min(d.size(), scratch_.size() - ipv4::min_header_size - icmp::header_size);
  std::uint8_t* m = scratch_.data();
  std::memset(m, 0, icmp::header_size);
  m[0] = type;
  m[1] = code;
  std::memcpy(m + icmp::header_size, d.data(), quote);
  std::span<const std::uint8_t> msg{m, icmp::header_size + quote};
  store16(m + 2, internet_checksum(msg));
  if (!ok(ipv4_.send(local, offender, ipv4::proto_icmp, msg, now))) return false;
  ++counters_.icmp_tx_errors;
  return true;
}

}  // namespace rz::net
