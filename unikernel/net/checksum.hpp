// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
// complement sum of the data taken as big-endian 16-bit words, an odd last
// byte padded with zero. A Checksum accumulates pieces of any length in
// order, so a message spread over several buffers sums like one.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace rz::net {

class Checksum {
 public:
  void add(std::span<const std::uint8_t> data) {
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    if (odd_ && n) {
      sum_ += *p++;
      --n;
      odd_ = false;
    }
    // The words in the machine's own order, eight octets per load; the sum
    // is independent of byte order but for a swap of its two octets at the
    // end (RFC 1071 2(B)). Under TCG each load is a software TLB lookup, so
    // an eighth of the loads is most of the gain.
    std::uint64_t native = 0;
    for (; n >= 8; n -= 8, p += 8) {
      std::uint64_t w;
      __builtin_memcpy(&w, p, 8);
      native += (w & 0xffffffff) + (w >> 32);
    }
    for (; n >= 2; n -= 2, p += 2) {
      std::uint16_t w;
      __builtin_memcpy(&w, p, 2);
      native += w;
    }
    while (native >> 16) native = (native & 0xffff) + (native >> 16);
    if constexpr (std::endian::native == std::endian::little)
      native = ((native & 0xff) << 8) | (native >> 8);
    sum_ += native;
    if (n) {
      sum_ += std::uint32_t(*p) << 8;
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
