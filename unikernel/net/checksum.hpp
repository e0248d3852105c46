// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
// complement sum of the data taken as big-endian 16-bit words, an odd last
// byte padded with zero. A Checksum accumulates pieces of any length in
// order, so a message spread over several buffers sums like one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace rz::net {

class Checksum {
 public:
  void add(std::span<const std::uint8_t> data) {
    std::size_t i = 0;
    if (odd_ && !data.empty()) {
      sum_ += data[0];
      odd_ = false;
      i = 1;
    }
    for (; i + 1 < data.size(); i += 2) sum_ += std::uint32_t(data[i]) << 8 | data[i + 1];
    if (i < data.size()) {
      sum_ += std::uint32_t(data[i]) << 8;
      odd_ = true;
    }
    // Fold now and then so that sum_ never overflows.
    sum_ = (sum_ & 0xffff) + (sum_ >> 16);
  }
  void add16(std::uint16_t word) { add32(word); }
  void add32(std::uint32_t v) {
    sum_ += (v >> 16) + (v & 0xffff);
    sum_ = (sum_ & 0xffff) + (sum_ >> 16);
  }
  // The value to put in the checksum field; 0 when verifying data that
  // includes a correct checksum field.
  std::uint16_t finish() const {
    std::uint64_t s = sum_;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(~s & 0xffff);
  }

 private:
  std::uint64_t sum_ = 0;
  bool odd_ = false;
};

inline std::uint16_t internet_checksum(std::span<const std::uint8_t> data) {
  Checksum c;
  c.add(data);
  return c.finish();
}

}  // namespace rz::net
