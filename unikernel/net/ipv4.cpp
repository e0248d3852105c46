// IPv4 input, dispatch and output (see ipv4.hpp).
#include "net/ipv4.hpp"

#include <algorithm>
#include <cstring>

#include "net/arp.hpp"
#include "net/bytes.hpp"
#include "net/checksum.hpp"
#include "net/icmp.hpp"

namespace rz::net::ipv4 {

std::optional<Header> Header::parse(std::span<const std::uint8_t> b, Error& why) {
  if (b.size() < min_header_size) {
    why = Error::truncated;
    return std::nullopt;
  }
  if (b[0] >> 4 != 4) {
    why = Error::bad_version;
    return std::nullopt;
  }
  std::size_t ihl = (b[0] & 0xf) * 4u;
  if (ihl < min_header_size) {
    why = Error::bad_ihl;
    return std::nullopt;
  }
  if (ihl > b.size()) {
    why = Error::truncated;
    return std::nullopt;
  }
  if (internet_checksum(b.first(ihl)) != 0) {
    why = Error::bad_checksum;
    return std::nullopt;
  }
  Header h;
  h.header_size = static_cast<std::uint8_t>(ihl);
  h.total_length = load16(b.data() + 2);
  if (h.total_length < ihl) {
    why = Error::bad_length;
    return std::nullopt;
  }
  if (h.total_length > b.size()) {
    why = Error::truncated;
    return std::nullopt;
  }
  h.tos = b[1];
  h.id = load16(b.data() + 4);
  std::uint16_t frag = load16(b.data() + 6);
  h.df = frag & 0x4000;
  h.mf = frag & 0x2000;
  h.fragment_offset = static_cast<std::uint16_t>((frag & 0x1fff) * 8);
  h.ttl = b[8];
  h.protocol = b[9];
  h.src.value = load32(b.data() + 12);
  h.dst.value = load32(b.data() + 16);
  return h;
}

void Header::emit(std::span<std::uint8_t> out) const {
  std::uint8_t* b = out.data();
  b[0] = 0x45;
  b[1] = tos;
  store16(b + 2, total_length);
  store16(b + 4, id);
  store16(b + 6, static_cast<std::uint16_t>((df ? 0x4000 : 0) | (mf ? 0x2000 : 0) |
                                            (fragment_offset / 8 & 0x1fff)));
  b[8] = ttl;
  b[9] = protocol;
  store16(b + 10, 0);
  store32(b + 12, src.value);
  store32(b + 16, dst.value);
  store16(b + 10, internet_checksum({b, min_header_size}));
}

}  // namespace rz::net::ipv4

namespace rz::net {

Ipv4::Ipv4(Arp& arp, Nic& nic, const Config& config, Counters& counters)
    : arp_(arp),
      nic_(nic),
      config_(config),
      counters_(counters),
      reassembler_(config.ipfrag_time_ms, counters),
      // Start the identification somewhere that differs between hosts.
      next_id_(static_cast<std::uint16_t>(config.mac.bytes[4] << 8 | config.mac.bytes[5]) ^
               static_cast<std::uint16_t>(config.address.value * 2654435761u >> 16)) {}

bool Ipv4::register_protocol(std::uint8_t protocol, Handler handler) {
  for (std::size_t i = 0; i < protocol_count_; ++i) {
    if (protocols_[i].protocol == protocol) {
      protocols_[i].handler = std::move(handler);
      return true;
    }
  }
  if (protocol_count_ == max_protocols) return false;
  protocols_[protocol_count_++] = Entry{protocol, std::move(handler)};
  return true;
}

bool Ipv4::has_protocol(std::uint8_t protocol) const {
  for (std::size_t i = 0; i < protocol_count_; ++i)
    if (protocols_[i].protocol == protocol) return true;
  return false;
}

bool Ipv4::is_broadcast(Ipv4Address a) const {
  if (a == Ipv4Address::limited_broadcast()) return true;
  if (config_.address == Ipv4Address::any() || config_.prefix >= 31) return false;
  std::uint32_t host_mask = 0xffffffffu >> config_.prefix;
  return (a.value & ~host_mask) == (config_.address.value & ~host_mask) &&
         (a.value & host_mask) == host_mask;
}

bool Ipv4::is_unicast_host(Ipv4Address a) const {
  return a != Ipv4Address::any() && !is_broadcast(a) && !ipv4::is_multicast(a) &&
         !ipv4::is_loopback(a) && (a.value >> 28) != 0xf;
}

void Ipv4::input(PacketPtr packet, const FrameInfo& info, std::uint64_t now) {
  ++counters_.ipv4_rx_datagrams;
  ipv4::Header::Error why{};
  auto h = ipv4::Header::parse(packet->bytes(), why);
  if (!h) {
    switch (why) {
      case ipv4::Header::Error::truncated:
        ++counters_.ipv4_rx_drop_truncated;
        break;
      case ipv4::Header::Error::bad_version:
        ++counters_.ipv4_rx_drop_bad_version;
        break;
      case ipv4::Header::Error::bad_ihl:
        ++counters_.ipv4_rx_drop_bad_ihl;
        break;
      case ipv4::Header::Error::bad_checksum:
        ++counters_.ipv4_rx_drop_bad_checksum;
        break;
      case ipv4::Header::Error::bad_length:
        ++counters_.ipv4_rx_drop_bad_length;
        break;
    }
    return;
  }
  // Bytes after the total length are the link's padding.
  packet->resize(h->total_length);

  // RFC 1122 3.2.1.3: a source that is no host's (broadcast, multicast,
  // loopback from the wire, our own address) is discarded. 0.0.0.0 is
  // allowed (a host that does not know its address yet, e.g. DHCP).
  Ipv4Address src = h->src;
  if (src == Ipv4Address::limited_broadcast() || ipv4::is_multicast(src) ||
      ipv4::is_loopback(src) || (src != Ipv4Address::any() && src == config_.address) ||
      (src != Ipv4Address::any() && is_broadcast(src))) {
    ++counters_.ipv4_rx_drop_bad_source;
    return;
  }
  // RFC 1122 3.3.4.2 / 3.3.6: ours, or a broadcast of this network. A host
  // does not forward (3.3.1.1 default off).
  bool broadcast = is_broadcast(h->dst);
  bool ours = config_.address != Ipv4Address::any() && h->dst == config_.address;
  // Without an address, UDP to any unicast address in a frame for our MAC
  // is ours: a DHCP server may unicast its offer to the address it offers
  // (RFC 2131 4.1, broadcast bit clear).
  if (config_.address == Ipv4Address::any() && h->protocol == ipv4::proto_udp &&
      !info.link_broadcast && is_unicast_host(h->dst))
    ours = true;
  if (!ours && !broadcast) {
    ++counters_.ipv4_rx_drop_not_for_us;
    return;
  }

  std::span<const std::uint8_t> raw_header{packet->data(), h->header_size};
  if (h->is_fragment()) {
    Reassembler::Fragment f{h->src,
                            h->dst,
                            h->protocol,
                            h->id,
                            h->fragment_offset,
                            h->mf,
                            raw_header,
                            packet->bytes().subspan(h->header_size),
                            info.link_broadcast};
    auto d = reassembler_.add(f, now);
    packet.reset();  // the data is in the reassembly arena now
    if (!d) return;
    Ipv4Input in;
    in.header = *h;
    in.header.mf = false;
    in.header.fragment_offset = 0;
    in.header.total_length = static_cast<std::uint16_t>(d->bytes.size());
    in.raw_header = d->bytes.first(d->header_size);
    in.payload = d->bytes.subspan(d->header_size);
    in.ip_broadcast = broadcast;
    in.link_broadcast = d->link_broadcast;
    in.reassembled = true;
    return deliver(in, nullptr, now);
  }
  Ipv4Input in;
  in.header = *h;
  in.raw_header = raw_header;
  in.payload = packet->bytes().subspan(h->header_size);
  in.ip_broadcast = broadcast;
  in.link_broadcast = info.link_broadcast;
  packet->pull_front(h->header_size);
  deliver(in, std::move(packet), now);
}

void Ipv4::deliver(const Ipv4Input& in, PacketPtr packet, std::uint64_t now) {
  for (std::size_t i = 0; i < protocol_count_; ++i) {
    if (protocols_[i].protocol == in.header.protocol && protocols_[i].handler) {
      ++counters_.ipv4_rx_delivered;
      return protocols_[i].handler(in, std::move(packet), now);
    }
  }
  // RFC 1122 3.2.2.1: a protocol we do not implement draws Destination
  // Unreachable code 2 (the ICMP layer applies the "never about" rules).
  ++counters_.ipv4_rx_drop_unknown_protocol;
  if (!icmp_) return;
  std::size_t quoted = in.raw_header.size() + in.payload.size();
  Icmp::Offending off{{in.raw_header.data(), quoted}, in.link_broadcast, in.ip_broadcast};
  icmp_->send_error(icmp::type_dest_unreachable, icmp::code_protocol_unreachable, off, now);
}

void Ipv4::tick(std::uint64_t now) {
  reassembler_.tick(now, [&](std::span<const std::uint8_t> quote, bool link_broadcast) {
    // The quote starts with the first fragment's header (checked on input).
    if (!icmp_ || quote.size() < ipv4::min_header_size) return;
    Ipv4Address dst{load32(quote.data() + 16)};
    Icmp::Offending off{quote, link_broadcast, is_broadcast(dst) || ipv4::is_multicast(dst)};
    icmp_->send_error(icmp::type_time_exceeded, icmp::code_reassembly_time_exceeded, off, now);
  });
}

Ipv4Address Ipv4::source_for(Ipv4Address src) const {
  return src == Ipv4Address::any() ? config_.address : src;
}

std::optional<Ipv4::Route> Ipv4::route(Ipv4Address dst) const {
  if (is_broadcast(dst)) return Route{MacAddress::broadcast(), dst, true};
  if (config_.address == Ipv4Address::any()) return std::nullopt;
  std::uint32_t mask = config_.prefix == 0 ? 0 : 0xffffffffu << (32 - config_.prefix);
  if ((dst.value & mask) == (config_.address.value & mask)) return Route{{}, dst, false};
  if (config_.gateway != Ipv4Address::any()) return Route{{}, config_.gateway, false};
  return std::nullopt;
}

SendResult Ipv4::transmit(const Route& r, PacketPtr datagram, std::uint64_t now) {
  if (r.broadcast) {
    // A broadcast needs no resolution.
    return arp_.send_ipv4_broadcast(std::move(datagram)) ? SendResult::sent
                                                         : SendResult::device_full;
  }
  return arp_.send_ipv4(r.next_hop, std::move(datagram), now);
}

SendResult Ipv4::send(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, PacketPtr payload,
                      std::uint64_t now, Ipv4SendOptions options) {
  std::size_t mtu = nic_.mtu();
  if (payload->size() + ipv4::min_header_size > mtu)
    return send(src, dst, protocol, std::span<const std::uint8_t>(payload->bytes()), now, options);
  auto r = route(dst);
  if (!r) {
    ++counters_.ipv4_tx_drop_no_route;
    return SendResult::no_route;
  }
  ipv4::Header h;
  h.tos = options.tos;
  h.ttl = options.ttl;
  h.total_length = static_cast<std::uint16_t>(payload->size() + ipv4::min_header_size);
  h.id = next_id_++;
  h.protocol = protocol;
  h.src = source_for(src);
  h.dst = dst;
  std::uint8_t* p = payload->push_front(ipv4::min_header_size);
  if (!p) {
    ++counters_.eth_tx_drop_no_headroom;
    return SendResult::no_buffer;
  }
  h.emit(payload->bytes());
  ++counters_.ipv4_tx_datagrams;
  return transmit(*r, std::move(payload), now);
}

SendResult Ipv4::send(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                      std::span<const std::uint8_t> payload, std::uint64_t now,
                      Ipv4SendOptions options) {
  if (payload.size() + ipv4::min_header_size > ipv4::max_datagram_size) {
    ++counters_.ipv4_tx_drop_too_big;
    return SendResult::too_big;
  }
  auto r = route(dst);
  if (!r) {
    ++counters_.ipv4_tx_drop_no_route;
    return SendResult::no_route;
  }
  // RFC 791 3.2: fragments carry multiples of 8 bytes but the last; each
  // gets the header (no options to copy), MF on all but the last. DF stays
  // clear.
  std::size_t mtu =
      std::min<std::size_t>(nic_.mtu(), Packet::buffer_size - Packet::default_headroom);
  std::size_t per_fragment =
      mtu > ipv4::min_header_size + 8 ? (mtu - ipv4::min_header_size) & ~std::size_t(7) : 0;
  if (per_fragment == 0) {
    ++counters_.ipv4_tx_drop_too_big;
    return SendResult::too_big;
  }
  ipv4::Header h;
  h.tos = options.tos;
  h.ttl = options.ttl;
  h.id = next_id_++;
  h.protocol = protocol;
  h.src = source_for(src);
  h.dst = dst;
  bool fragmented = payload.size() + ipv4::min_header_size > mtu;
  std::size_t offset = 0;
  SendResult result = SendResult::sent;
  do {
    std::size_t n = std::min(per_fragment, payload.size() - offset);
    PacketPtr packet = nic_.pool().alloc();
    if (!packet) {
      ++counters_.ipv4_tx_drop_no_buffer;
      return SendResult::no_buffer;
    }
    packet->resize(ipv4::min_header_size + n);
    h.total_length = static_cast<std::uint16_t>(ipv4::min_header_size + n);
    h.fragment_offset = static_cast<std::uint16_t>(offset);
    h.mf = offset + n < payload.size();
    h.emit(packet->bytes());
    if (n) std::memcpy(packet->data() + ipv4::min_header_size, payload.data() + offset, n);
    if (fragmented) ++counters_.ipv4_tx_fragments;
    // The datagram's fate is its worst fragment's.
    SendResult r1 = transmit(*r, std::move(packet), now);
    if (!ok(r1) || result == SendResult::sent) result = r1;
    offset += n;
  } while (offset < payload.size() && ok(result));
  ++counters_.ipv4_tx_datagrams;
  return result;
}

const char* to_string(SendResult r) {
  switch (r) {
    case SendResult::sent:
      return "sent";
    case SendResult::queued:
      return "queued";
    case SendResult::no_route:
      return "no_route";
    case SendResult::no_buffer:
      return "no_buffer";
    case SendResult::too_big:
      return "too_big";
    case SendResult::device_full:
      return "device_full";
    case SendResult::closed:
      return "closed";
    case SendResult::bad_address:
      return "bad_address";
    case SendResult::port_unreachable:
      return "port_unreachable";
    case SendResult::unreachable:
      return "unreachable";
    case SendResult::time_exceeded:
      return "time_exceeded";
    case SendResult::parameter_problem:
      return "parameter_problem";
    case SendResult::source_quench:
      return "source_quench";
  }
  return "?";
}

}  // namespace rz::net
