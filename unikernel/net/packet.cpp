// Packet buffers and their pool (see packet.hpp).
#include "net/packet.hpp"

namespace rz::net {

std::uint8_t* Packet::push_front(std::size_t n) {
  if (n > start_) return nullptr;
  start_ = static_cast<std::uint16_t>(start_ - n);
  return data();
}

bool Packet::pull_front(std::size_t n) {
  if (n > size()) return false;
  start_ = static_cast<std::uint16_t>(start_ + n);
  return true;
}

bool Packet::resize(std::size_t n) {
  if (n > buffer_size - start_) return false;
  end_ = static_cast<std::uint16_t>(start_ + n);
  return true;
}

void Packet::reset(std::size_t headroom) {
  if (headroom > buffer_size) headroom = buffer_size;
  start_ = end_ = static_cast<std::uint16_t>(headroom);
}

void PacketReturn::operator()(Packet* p) const {
  if (p) p->pool_->release(p);
}

PacketPool::PacketPool(std::size_t count)
    : capacity_(count),
      available_(count),
      packets_(new Packet[count]),
      memory_(new std::uint8_t[count * Packet::buffer_size]) {
  for (std::size_t i = count; i-- > 0;) {
    Packet& p = packets_[i];
    p.buffer_ = memory_.get() + i * Packet::buffer_size;
    p.pool_ = this;
    p.next_free_ = free_;
    free_ = &p;
  }
}

PacketPool::~PacketPool() = default;

PacketPtr PacketPool::alloc(std::size_t headroom) {
  if (!free_) {
    ++alloc_failures_;
    return nullptr;
  }
  Packet* p = free_;
  free_ = p->next_free_;
  p->next_free_ = nullptr;
  --available_;
  p->reset(headroom);
  return PacketPtr(p);
}

void PacketPool::release(Packet* p) {
  p->next_free_ = free_;
  free_ = p;
  ++available_;
}

}  // namespace rz::net
