// ByteRing and OutOfOrder (see tcp_buffer.hpp).
#include "net/tcp_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace rz::net {

void ByteRing::ensure(std::size_t n) {
  if (n <= allocated_) return;
  std::size_t grown = std::max<std::size_t>(allocated_ ? allocated_ : 4096, 4096);
  while (grown < n) grown *= 2;
  grown = std::min(grown, capacity_);
  auto bigger = std::make_unique<std::uint8_t[]>(grown);
  // Everything the old memory held, from the front, unrolled. Out-of-order
  // bytes past size_ live there too: copy the whole old ring.
  for (std::size_t i = 0; i < allocated_; ++i) bigger[i] = buffer_[(head_ + i) % allocated_];
  buffer_ = std::move(bigger);
  allocated_ = grown;
  head_ = 0;
}

void ByteRing::write_at(std::size_t offset, std::span<const std::uint8_t> data) {
  if (data.empty()) return;
  ensure(size_ + offset + data.size());
  std::size_t pos = (head_ + size_ + offset) % allocated_;
  std::size_t first = std::min(data.size(), allocated_ - pos);
  std::memcpy(buffer_.get() + pos, data.data(), first);
  if (first < data.size()) std::memcpy(buffer_.get(), data.data() + first, data.size() - first);
}

std::size_t ByteRing::append(std::span<const std::uint8_t> data) {
  std::size_t n = std::min(data.size(), space());
  write_at(0, data.first(n));
  size_ += n;
  return n;
}

std::size_t ByteRing::peek(std::size_t offset, std::span<std::uint8_t> out) const {
  if (offset >= size_) return 0;
  std::size_t n = std::min(out.size(), size_ - offset);
  std::size_t pos = (head_ + offset) % allocated_;
  std::size_t first = std::min(n, allocated_ - pos);
  std::memcpy(out.data(), buffer_.get() + pos, first);
  if (first < n) std::memcpy(out.data() + first, buffer_.get(), n - first);
  return n;
}

void ByteRing::consume(std::size_t n) {
  n = std::min(n, size_);
  size_ -= n;
  if (allocated_) head_ = (head_ + n) % allocated_;  // not reset: out-of-order bytes lie past it
}

void ByteRing::release() {
  buffer_.reset();
  allocated_ = 0;
  head_ = size_ = 0;
}

bool OutOfOrder::add(std::size_t begin, std::size_t end) {
  if (begin >= end) return true;
  // Merge with every range it overlaps or touches.
  auto first =
      std::find_if(ranges_.begin(), ranges_.end(), [&](const Range& r) { return r.end >= begin; });
  auto last = first;
  while (last != ranges_.end() && last->begin <= end) {
    begin = std::min(begin, last->begin);
    end = std::max(end, last->end);
    ++last;
  }
  if (first == last) {
    if (ranges_.size() == max_ranges) return false;
    ranges_.insert(first, Range{begin, end});
    return true;
  }
  *first = Range{begin, end};
  ranges_.erase(first + 1, last);
  return true;
}

std::size_t OutOfOrder::advance(std::size_t n) {
  std::size_t joined = 0;
  std::vector<Range> kept;
  for (auto& r : ranges_) {
    if (r.end <= n) continue;  // now in order
    std::size_t b = r.begin > n ? r.begin - n : 0;
    std::size_t e = r.end - n;
    if (b == 0) {
      joined = e;
      continue;
    }
    kept.push_back(Range{b - joined, e - joined});
  }
  ranges_ = std::move(kept);
  return joined;
}

}  // namespace rz::net
