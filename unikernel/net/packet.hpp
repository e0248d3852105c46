// Packet buffers: fixed-size buffers from one pool allocated at boot, so the
// hot path never allocates. A Packet is a window [data, data + size) inside
// its buffer, with headroom in front so each layer on the way out prepends
// its header in place, and each layer on the way in strips its own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace rz::net {

class PacketPool;

class Packet {
 public:
  // Every buffer is this big; a full Ethernet frame plus the virtio-net
  // header plus headroom fits.
  static constexpr std::size_t buffer_size = 2048;
  // Headroom a fresh packet starts with: enough for virtio-net + Ethernet +
  // IPv4 with options + a transport header.
  static constexpr std::size_t default_headroom = 128;

  std::uint8_t* data() { return buffer_ + start_; }
  const std::uint8_t* data() const { return buffer_ + start_; }
  std::size_t size() const { return end_ - start_; }
  std::span<std::uint8_t> bytes() { return {data(), size()}; }
  std::span<const std::uint8_t> bytes() const { return {data(), size()}; }
  std::size_t headroom() const { return start_; }
  std::size_t tailroom() const { return buffer_size - end_; }

  // Grows the window at the front by n bytes and returns its new start, or
  // nullptr (window unchanged) when the headroom is too small.
  std::uint8_t* push_front(std::size_t n);
  // Shrinks the window at the front; false (unchanged) when n > size().
  bool pull_front(std::size_t n);
  // Sets the window's size (shrinks, or grows into the tailroom); false
  // (unchanged) when it does not fit.
  bool resize(std::size_t n);
  // Starts the window empty at `headroom` bytes into the buffer.
  void reset(std::size_t headroom = default_headroom);
  // The whole buffer, for a driver handing it to a device.
  std::uint8_t* buffer() { return buffer_; }

 private:
  friend class PacketPool;
  friend struct PacketReturn;
  std::uint8_t* buffer_ = nullptr;
  std::uint16_t start_ = 0;
  std::uint16_t end_ = 0;
  PacketPool* pool_ = nullptr;
  Packet* next_free_ = nullptr;
};

struct PacketReturn {
  void operator()(Packet* p) const;
};
// The owner of a packet; destroying it gives the buffer back to its pool.
using PacketPtr = std::unique_ptr<Packet, PacketReturn>;

class PacketPool {
 public:
  // Allocates `count` buffers at once (the only allocation the pool makes).
  explicit PacketPool(std::size_t count);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A packet with an empty window at `headroom`, or null when the pool is
  // empty (counted in alloc_failures()).
  PacketPtr alloc(std::size_t headroom = Packet::default_headroom);
  std::size_t capacity() const { return capacity_; }
  std::size_t available() const { return available_; }
  std::uint64_t alloc_failures() const { return alloc_failures_; }

 private:
  friend struct PacketReturn;
  void release(Packet* p);
  std::size_t capacity_;
  std::size_t available_;
  std::uint64_t alloc_failures_ = 0;
  std::unique_ptr<Packet[]> packets_;
  std::unique_ptr<std::uint8_t[]> memory_;
  Packet* free_ = nullptr;
};

}  // namespace rz::net
