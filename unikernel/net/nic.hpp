// A network interface card as the stack sees it: frames out, frames in.
// Drivers (drivers/virtio_net) implement it; host tests and the fuzzer use a
// fake one.
#pragma once
#include <cstdint>
#include <functional>

#include "net/addresses.hpp"
#include "net/packet.hpp"

namespace rz::net {

struct NicStats {
  std::uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
  std::uint64_t rx_dropped_no_buffer;  // RX ring could not be refilled
  std::uint64_t tx_dropped_ring_full;  // transmit() found no free descriptor
  std::uint64_t interrupts;
  std::uint64_t tx_notifies;  // times the driver told the device of new frames
};

class Nic {
 public:
  using ReceiveHandler = std::function<void(PacketPtr frame)>;
  virtual ~Nic() = default;

  virtual MacAddress mac() const = 0;
  // Largest IP datagram in one frame.
  virtual std::uint16_t mtu() const { return 1500; }
  // Sends one whole Ethernet frame (destination MAC first). Takes the
  // packet; its buffer goes back to the pool once the device has sent it.
  // False when the device queue is full (the frame is dropped and counted).
  // Needs Packet::default_headroom - 64 bytes of headroom left for the driver.
  virtual bool transmit(PacketPtr frame) = 0;
  // Where received frames go (from the event loop, never an interrupt); the
  // packet's window is the Ethernet frame.
  void set_receive_handler(ReceiveHandler handler) { receive_ = std::move(handler); }
  // The pool the stack allocates outgoing packets from.
  virtual PacketPool& pool() = 0;
  virtual NicStats stats() const = 0;

 protected:
  ReceiveHandler receive_;
};

}  // namespace rz::net
