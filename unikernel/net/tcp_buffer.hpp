// The byte buffers of a TCP connection: a ring of bounded capacity whose
// memory grows as it fills (doubling from 4 KiB), so that an idle or
// request-response connection costs little, and that holds
//   - on the send side, the bytes from SND.UNA on (sent and unacknowledged,
//     then not yet sent), dropped from the front as ACKs arrive;
//   - on the receive side, the bytes from the application's read position:
//     in order up to RCV.NXT, and beyond it the out-of-order segments,
//     written at their offset and remembered as a list of ranges
//     (RFC 9293 3.10.7.4 "seventh", kept and reassembled, bounded by the
//     window we advertised, which never exceeds the free space).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace rz::net {

class ByteRing {
 public:
  explicit ByteRing(std::size_t capacity = 0) : capacity_(capacity) {}

  std::size_t capacity() const { return capacity_; }
  // Memory held now.
  std::size_t allocated() const { return allocated_; }
  std::size_t size() const { return size_; }
  std::size_t space() const { return capacity_ - size_; }

  // Appends as much of `data` as fits; returns how much.
  std::size_t append(std::span<const std::uint8_t> data);
  // Writes `data` at `offset` bytes past the front (offset + size <= the
  // capacity), without changing size(); commit() takes it in.
  void write_at(std::size_t offset, std::span<const std::uint8_t> data);
  void commit(std::size_t n) { size_ += n; }
  // Copies bytes from `offset` past the front into `out` (as many as are
  // there up to out.size()); returns how many.
  std::size_t peek(std::size_t offset, std::span<std::uint8_t> out) const;
  // Drops n bytes from the front.
  void consume(std::size_t n);
  // Frees the memory (the ring is empty afterwards).
  void release();

 private:
  // Grows the memory to hold `n` bytes from the front (n <= capacity).
  void ensure(std::size_t n);
  std::unique_ptr<std::uint8_t[]> buffer_;
  std::size_t capacity_;
  std::size_t allocated_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// Out-of-order data past RCV.NXT: ranges of offsets from RCV.NXT, sorted,
// disjoint and not touching.
class OutOfOrder {
 public:
  static constexpr std::size_t max_ranges = 32;
  struct Range {
    std::size_t begin, end;
  };
  // Records [begin, end); false when it would need more than max_ranges.
  bool add(std::size_t begin, std::size_t end);
  // RCV.NXT moved forward by n: ranges shift down; returns how many bytes
  // past the new RCV.NXT are now contiguous (the caller advances by them too).
  std::size_t advance(std::size_t n);
  bool empty() const { return ranges_.empty(); }
  std::size_t ranges() const { return ranges_.size(); }
  // The highest offset held (0 when empty).
  std::size_t end() const { return ranges_.empty() ? 0 : ranges_.back().end; }
  void clear() { ranges_.clear(); }

 private:
  std::vector<Range> ranges_;
};

}  // namespace rz::net
