// Ethernet II input and output (see ethernet.hpp).
#include "net/ethernet.hpp"

#include <cstring>

#include "net/bytes.hpp"

namespace rz::net::ethernet {

std::optional<Header> Header::parse(std::span<const std::uint8_t> frame) {
  if (frame.size() < header_size) return std::nullopt;
  Header h;
  std::memcpy(h.dst.bytes.data(), frame.data(), 6);
  std::memcpy(h.src.bytes.data(), frame.data() + 6, 6);
  h.type = load16(frame.data() + 12);
  return h;
}

void Header::emit(std::span<std::uint8_t> out) const {
  std::memcpy(out.data(), dst.bytes.data(), 6);
  std::memcpy(out.data() + 6, src.bytes.data(), 6);
  store16(out.data() + 12, type);
}

}  // namespace rz::net::ethernet

namespace rz::net {

void Ethernet::input(PacketPtr frame, std::uint64_t now) {
  ++counters_.eth_rx_frames;
  auto header = ethernet::Header::parse(frame->bytes());
  if (!header) {
    ++counters_.eth_rx_drop_truncated;
    return;
  }
  FrameInfo info{header->src, header->dst.is_multicast()};
  // Ours, broadcast, or multicast (the NIC filters multicast groups; none
  // of ours reaches the IP layer as unicast). Other unicast is not for us.
  if (header->dst != mac_ && !info.link_broadcast) {
    ++counters_.eth_rx_drop_not_for_us;
    return;
  }
  frame->pull_front(ethernet::header_size);
  switch (header->type) {
    case ethernet::type_arp:
      if (arp_) return arp_(std::move(frame), info, now);
      break;
    case ethernet::type_ipv4:
      if (ipv4_) return ipv4_(std::move(frame), info, now);
      break;
    default:
      break;
  }
  ++counters_.eth_rx_drop_unknown_type;
}

bool Ethernet::output(PacketPtr payload, MacAddress dst, std::uint16_t type) {
  std::uint8_t* p = payload->push_front(ethernet::header_size);
  if (!p) {
    ++counters_.eth_tx_drop_no_headroom;
    return false;
  }
  ethernet::Header{dst, mac_, type}.emit(payload->bytes());
  std::size_t size = payload->size();
  if (size < ethernet::min_frame_size && payload->resize(ethernet::min_frame_size))
    std::memset(payload->data() + size, 0, ethernet::min_frame_size - size);
  if (!nic_.transmit(std::move(payload))) {
    ++counters_.eth_tx_drop_device_full;
    return false;
  }
  ++counters_.eth_tx_frames;
  return true;
}

}  // namespace rz::net
