// A split virtqueue in the legacy layout (virtio 0.9.5 / virtio 1.x
// "legacy interface"): descriptor table, available ring, and the used ring
// on the next 4 KiB boundary, in one physically contiguous block.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rz::virtio {

struct Descriptor {
  std::uint64_t addr;
  std::uint32_t len;
  std::uint16_t flags;
  std::uint16_t next;
};
inline constexpr std::uint16_t desc_write = 2;  // the device writes this buffer

struct UsedElement {
  std::uint32_t id;
  std::uint32_t len;
};

class Virtqueue {
 public:
  // Allocates the rings for `size` entries (a power of two, from the device).
  bool init(std::uint16_t size);
  std::uint16_t size() const { return size_; }
  // Page frame number of the block, for the legacy queue address register.
  std::uint32_t pfn() const;

  // Puts descriptor `id` (one buffer) on the available ring. Call publish()
  // after a batch.
  void post(std::uint16_t id, const void* buffer, std::uint32_t len, bool device_writes);
  // Makes posted buffers visible to the device; true when it wants a notify.
  bool publish();
  // Next used element, if the device returned one.
  bool next_used(UsedElement& out);
  bool has_used() const { return last_used_ != used_[1]; }

 private:
  std::uint16_t size_ = 0;
  Descriptor* desc_ = nullptr;
  volatile std::uint16_t* avail_ = nullptr;  // flags, idx, ring[size], used_event
  volatile std::uint16_t* used_ = nullptr;   // flags, idx, then elements
  volatile UsedElement* used_ring_ = nullptr;
  std::uint16_t avail_idx_ = 0;
  std::uint16_t published_ = 0;
  std::uint16_t last_used_ = 0;
};

}  // namespace rz::virtio
