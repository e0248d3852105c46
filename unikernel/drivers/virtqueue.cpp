#include "drivers/virtqueue.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace rz::virtio {
namespace {

constexpr std::size_t page = 4096;
constexpr std::uint16_t used_no_notify = 1;

std::size_t align_page(std::size_t n) {
  return (n + page - 1) & ~(page - 1);
}

}  // namespace

bool Virtqueue::init(std::uint16_t size) {
  if (size == 0 || (size & (size - 1))) return false;
  std::size_t avail_bytes = sizeof(std::uint16_t) * (3 + size);
  std::size_t used_offset = align_page(sizeof(Descriptor) * size + avail_bytes);
  std::size_t total =
      used_offset + align_page(sizeof(std::uint16_t) * 3 + sizeof(UsedElement) * size);
  auto* block = static_cast<std::uint8_t*>(std::aligned_alloc(page, total));
  if (!block) return false;
  std::memset(block, 0, total);
  size_ = size;
  desc_ = reinterpret_cast<Descriptor*>(block);
  avail_ = reinterpret_cast<volatile std::uint16_t*>(block + sizeof(Descriptor) * size);
  used_ = reinterpret_cast<volatile std::uint16_t*>(block + used_offset);
  used_ring_ = reinterpret_cast<volatile UsedElement*>(block + used_offset + 4);
  return true;
}

std::uint32_t Virtqueue::pfn() const {
  // The kernel maps memory 1:1, so the address is the physical one.
  return std::uint32_t(reinterpret_cast<std::uint64_t>(desc_) / page);
}

void Virtqueue::post(std::uint16_t id, const void* buffer, std::uint32_t len, bool device_writes) {
  Descriptor& d = desc_[id];
  d.addr = reinterpret_cast<std::uint64_t>(buffer);
  d.len = len;
  d.flags = device_writes ? desc_write : 0;
  d.next = 0;
  avail_[2 + (avail_idx_ & (size_ - 1))] = id;
  ++avail_idx_;
}

bool Virtqueue::publish() {
  if (avail_idx_ == published_) return false;
  // Descriptors and ring entries before the index (x86 keeps stores in
  // order; the fence stops the compiler reordering them).
  std::atomic_thread_fence(std::memory_order_release);
  avail_[1] = avail_idx_;
  published_ = avail_idx_;
  // The index store before the read of the device's no-notify flag.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return !(used_[0] & used_no_notify);
}

bool Virtqueue::next_used(UsedElement& out) {
  if (last_used_ == used_[1]) return false;
  std::atomic_thread_fence(std::memory_order_acquire);
  const volatile UsedElement& e = used_ring_[last_used_ & (size_ - 1)];
  out.id = e.id;
  out.len = e.len;
  ++last_used_;
  return true;
}

}  // namespace rz::virtio
