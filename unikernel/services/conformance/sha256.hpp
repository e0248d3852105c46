// SHA-256 (FIPS 180-4), incremental: the agent hashes every byte a TCP
// connection receives and sends, so the suites can compare 100 MB
// transfers without moving the data over the control channel.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace rz {

class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::uint8_t> data);
  // The digest of everything so far, as 64 hex digits (the state is kept,
  // so more data may follow).
  std::string hex() const;

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t used_ = 0;
  std::uint64_t length_ = 0;  // bytes
};

}  // namespace rz
