// UDP: header, checksum, socket table, input and output (see udp.hpp).
#include "net/udp.hpp"

#include <cstring>
#include <vector>

#include "net/bytes.hpp"
#include "net/checksum.hpp"
#include "net/icmp.hpp"

namespace rz::net::udp {
namespace {

std::uint16_t pseudo_sum(std::span<const std::uint8_t> datagram, Ipv4Address src, Ipv4Address dst) {
  Checksum c;
  c.add32(src.value);
  c.add32(dst.value);
  c.add16(ipv4::proto_udp);
  c.add16(static_cast<std::uint16_t>(datagram.size()));
  c.add(datagram);
  return c.finish();
}

}  // namespace

std::optional<Header> Header::parse(std::span<const std::uint8_t> b, Ipv4Address src,
                                    Ipv4Address dst, Error& why) {
  if (b.size() < header_size) {
    why = Error::truncated;
    return std::nullopt;
  }
  Header h;
  h.src_port = load16(b.data());
  h.dst_port = load16(b.data() + 2);
  h.length = load16(b.data() + 4);
  h.checksum = load16(b.data() + 6);
  // RFC 768: the length counts header and data; RFC 1122 4.1.3.4 leaves
  // what to do with bytes beyond it to us: they are ignored, as by Linux.
  if (h.length < header_size || h.length > b.size()) {
    why = Error::bad_length;
    return std::nullopt;
  }
  // RFC 1122 4.1.3.4: a nonzero checksum MUST be checked; zero means none.
  if (h.checksum != 0 && pseudo_sum(b.first(h.length), src, dst) != 0) {
    why = Error::bad_checksum;
    return std::nullopt;
  }
  return h;
}

std::uint16_t checksum(std::span<const std::uint8_t> datagram, Ipv4Address src, Ipv4Address dst) {
  std::uint16_t sum = pseudo_sum(datagram, src, dst);
  return sum == 0 ? 0xffff : sum;
}

}  // namespace rz::net::udp

namespace rz::net {

Udp::Udp(Ipv4& ipv4, Icmp& icmp, Counters& counters)
    : ipv4_(ipv4), icmp_(icmp), counters_(counters) {}

UdpSocket* Udp::find(std::uint16_t port) {
  if (port == 0) return nullptr;
  for (auto& s : sockets_)
    if (s.udp_ && s.port_ == port) return &s;
  return nullptr;
}

UdpSocket* Udp::bind(std::uint16_t port) {
  if (bound_ == max_sockets) {
    ++counters_.udp_bind_failed;
    return nullptr;
  }
  if (port == 0) {
    // RFC 6056 3.3.1: a random port of the range, then the next free one.
    constexpr unsigned range = udp::ephemeral_last - udp::ephemeral_first + 1;
    unsigned offset = random_ ? static_cast<unsigned>(random_(range)) : next_ephemeral_;
    for (unsigned i = 0; i < range && port == 0; ++i) {
      auto candidate = static_cast<std::uint16_t>(udp::ephemeral_first + (offset + i) % range);
      if (!find(candidate)) port = candidate;
    }
    next_ephemeral_ = static_cast<std::uint16_t>((offset + 1) % range);
  } else if (find(port)) {
    ++counters_.udp_bind_failed;
    return nullptr;
  }
  if (port == 0) {
    ++counters_.udp_bind_failed;
    return nullptr;
  }
  for (auto& s : sockets_) {
    if (s.udp_) continue;
    s = UdpSocket{};
    s.udp_ = this;
    s.port_ = port;
    ++bound_;
    return &s;
  }
  return nullptr;  // unreachable: bound_ < max_sockets
}

void Udp::unbind(UdpSocket& s) {
  if (!s.udp_) return;
  s.udp_ = nullptr;
  s.receive_ = nullptr;
  s.error_ = nullptr;
  --bound_;
}

void UdpSocket::close() {
  if (udp_) udp_->unbind(*this);
}

SendResult UdpSocket::send_to(Ipv4Address dst, std::uint16_t dst_port,
                              std::span<const std::uint8_t> data, std::uint64_t now) {
  return send_to_from(Ipv4Address::any(), dst, dst_port, data, now);
}

SendResult UdpSocket::send_to_from(Ipv4Address src, Ipv4Address dst, std::uint16_t dst_port,
                                   std::span<const std::uint8_t> data, std::uint64_t now) {
  SendResult r = udp_ ? udp_->send(*this, src, dst, dst_port, data, now) : SendResult::closed;
  if (ok(r)) {
    ++stats_.tx_datagrams;
    stats_.tx_bytes += data.size();
  } else {
    ++stats_.tx_failed;
  }
  return r;
}

SendResult Udp::send(UdpSocket& s, Ipv4Address src, Ipv4Address dst, std::uint16_t dst_port,
                     std::span<const std::uint8_t> data, std::uint64_t now) {
  if (dst == Ipv4Address::any() || dst_port == 0) {
    ++counters_.udp_tx_drop_bad_address;
    return SendResult::bad_address;
  }
  if (data.size() > udp::max_payload) {
    ++counters_.udp_tx_drop_too_big;
    return SendResult::too_big;
  }
  Ipv4Address from = src == Ipv4Address::any() ? ipv4_.source_address() : src;
  std::size_t length = udp::header_size + data.size();
  auto fill = [&](std::uint8_t* p) {
    store16(p, s.port_);
    store16(p + 2, dst_port);
    store16(p + 4, static_cast<std::uint16_t>(length));
    store16(p + 6, 0);
    if (!data.empty()) std::memcpy(p + udp::header_size, data.data(), data.size());
    store16(p + 6, udp::checksum({p, length}, from, dst));
  };
  SendResult r;
  if (length + ipv4::min_header_size <= ipv4_.mtu()) {
    // One frame: build it in a packet buffer, in place.
    PacketPtr packet = ipv4_.pool().alloc();
    if (!packet || !packet->resize(length)) {
      ++counters_.udp_tx_drop_no_buffer;
      return SendResult::no_buffer;
    }
    fill(packet->data());
    r = ipv4_.send(src, dst, ipv4::proto_udp, std::move(packet), now);
  } else {
    // Fragments: IP copies from one contiguous datagram.
    std::vector<std::uint8_t> datagram(length);
    fill(datagram.data());
    r = ipv4_.send(src, dst, ipv4::proto_udp, std::span<const std::uint8_t>(datagram), now);
  }
  if (ok(r))
    ++counters_.udp_tx_datagrams;
  else
    ++counters_.udp_tx_failed;
  if (after_send_) after_send_();
  return r;
}

void Udp::input(const Ipv4Input& in, PacketPtr packet, std::uint64_t now) {
  (void)packet;  // the bytes are in.payload, valid during this call
  ++counters_.udp_rx_datagrams;
  udp::Header::Error why{};
  auto h = udp::Header::parse(in.payload, in.header.src, in.header.dst, why);
  if (!h) {
    switch (why) {
      case udp::Header::Error::truncated:
        ++counters_.udp_rx_drop_truncated;
        break;
      case udp::Header::Error::bad_length:
        ++counters_.udp_rx_drop_bad_length;
        break;
      case udp::Header::Error::bad_checksum:
        ++counters_.udp_rx_drop_bad_checksum;
        break;
    }
    return;
  }
  if (h->checksum == 0) ++counters_.udp_rx_no_checksum;
  UdpSocket* s = find(h->dst_port);
  if (!s) {
    ++counters_.udp_rx_drop_no_port;
    // RFC 1122 4.1.3.1: port unreachable, except about broadcasts (the ICMP
    // layer applies 3.2.2's rules and the rate limit).
    std::size_t quoted = in.raw_header.size() + in.payload.size();
    Icmp::Offending off{{in.raw_header.data(), quoted}, in.link_broadcast, in.ip_broadcast};
    icmp_.send_error(icmp::type_dest_unreachable, icmp::code_port_unreachable, off, now);
    return;
  }
  UdpDatagram d;
  d.src = in.header.src;
  d.src_port = h->src_port;
  d.dst = in.header.dst;
  d.dst_port = h->dst_port;
  d.data = in.payload.subspan(udp::header_size, h->length - udp::header_size);
  d.broadcast = in.ip_broadcast;
  d.now_ms = now;
  ++counters_.udp_rx_delivered;
  ++s->stats_.rx_datagrams;
  s->stats_.rx_bytes += d.data.size();
  if (s->receive_) s->receive_(d);
}

void Udp::icmp_error(std::uint8_t type, std::uint8_t code, std::span<const std::uint8_t> quote) {
  // The quote is checked by the ICMP layer: an IP header from our address
  // and 8 bytes of UDP header at least.
  ++counters_.udp_rx_icmp_errors;
  SendResult why = SendResult::unreachable;
  switch (type) {
    case icmp::type_dest_unreachable:
      why = code == icmp::code_port_unreachable ? SendResult::port_unreachable
                                                : SendResult::unreachable;
      break;
    case icmp::type_time_exceeded:
      why = SendResult::time_exceeded;
      break;
    case icmp::type_parameter_problem:
      why = SendResult::parameter_problem;
      break;
    case icmp::type_source_quench:
      why = SendResult::source_quench;
      break;
    default:
      break;
  }
  std::size_t ihl = std::size_t(quote[0] & 0x0f) * 4;
  if ((load16(quote.data() + 6) & 0x1fff) != 0) return;  // a later fragment: no ports
  Ipv4Address dst{load32(quote.data() + 16)};
  std::uint16_t src_port = load16(quote.data() + ihl);
  std::uint16_t dst_port = load16(quote.data() + ihl + 2);
  UdpSocket* s = find(src_port);
  if (!s) return;
  ++s->stats_.tx_failed;
  if (s->error_) s->error_(dst, dst_port, why);
}

void Udp::dropped(std::span<const std::uint8_t> ip, SendResult why) {
  // Only the first fragment has the ports.
  if (ip.size() < ipv4::min_header_size) return;
  std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
  if (ihl < ipv4::min_header_size || ip.size() < ihl + udp::header_size) return;
  if (ip[9] != ipv4::proto_udp) return;
  if ((load16(ip.data() + 6) & 0x1fff) != 0) return;  // not the first fragment
  Ipv4Address dst{load32(ip.data() + 16)};
  std::uint16_t src_port = load16(ip.data() + ihl);
  std::uint16_t dst_port = load16(ip.data() + ihl + 2);
  ++counters_.udp_tx_dropped_later;
  UdpSocket* s = find(src_port);
  if (!s) return;
  ++s->stats_.tx_failed;
  if (s->error_) s->error_(dst, dst_port, why);
}

}  // namespace rz::net
