// Ethernet II (the DIX framing every IP host uses; IEEE 802.3 length fields
// are not ethertypes and are dropped as unknown types).
//
// The view: 6 bytes destination, 6 bytes source, 2 bytes ethertype. Frames
// come without the FCS (the device strips it); short frames on output are
// padded to the 60-byte minimum (IEEE 802.3 minimum of 64 with the FCS).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "net/addresses.hpp"
#include "net/counters.hpp"
#include "net/nic.hpp"
#include "net/packet.hpp"

namespace rz::net::ethernet {

inline constexpr std::size_t header_size = 14;
inline constexpr std::size_t min_frame_size = 60;  // without the FCS
inline constexpr std::uint16_t type_ipv4 = 0x0800;
inline constexpr std::uint16_t type_arp = 0x0806;

struct Header {
  MacAddress dst;
  MacAddress src;
  std::uint16_t type = 0;

  // Nullopt when the frame is shorter than the header.
  static std::optional<Header> parse(std::span<const std::uint8_t> frame);
  // Writes the 14 header bytes to `out` (at least header_size long).
  void emit(std::span<std::uint8_t> out) const;
};

}  // namespace rz::net::ethernet

namespace rz::net {

// What the layers above learn about the frame a packet came in.
struct FrameInfo {
  MacAddress src;
  bool link_broadcast = false;  // sent to the broadcast or a multicast MAC
};

class Ethernet {
 public:
  // The packet's window is the frame's payload (the header pulled off).
  using Handler = std::function<void(PacketPtr payload, const FrameInfo& info, std::uint64_t now)>;

  Ethernet(Nic& nic, MacAddress mac, Counters& counters)
      : nic_(nic), mac_(mac), counters_(counters) {}

  void set_handlers(Handler arp, Handler ipv4) {
    arp_ = std::move(arp);
    ipv4_ = std::move(ipv4);
  }
  MacAddress mac() const { return mac_; }

  // A frame from the NIC (window = the whole frame).
  void input(PacketPtr frame, std::uint64_t now);
  // Prepends the header (source = our MAC), pads to the minimum and sends.
  // False when the frame was dropped (counted).
  bool output(PacketPtr payload, MacAddress dst, std::uint16_t type);

 private:
  Nic& nic_;
  MacAddress mac_;
  Counters& counters_;
  Handler arp_;
  Handler ipv4_;
};

}  // namespace rz::net
