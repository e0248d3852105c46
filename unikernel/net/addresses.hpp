// MAC and IPv4 addresses: small value types with parsing and formatting.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rz::net {

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};
  static constexpr MacAddress broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  bool is_broadcast() const { return *this == broadcast(); }
  bool is_multicast() const { return bytes[0] & 1; }
  bool is_zero() const { return *this == MacAddress{}; }
  // "52:54:00:12:34:56"
  static std::optional<MacAddress> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const MacAddress&, const MacAddress&) = default;
};

// Host byte order inside: 10.0.0.1 is 0x0A000001.
struct Ipv4Address {
  std::uint32_t value = 0;
  static constexpr Ipv4Address any() { return {0}; }
  static constexpr Ipv4Address limited_broadcast() { return {0xffffffff}; }
  // "10.0.0.1"
  static std::optional<Ipv4Address> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const Ipv4Address&, const Ipv4Address&) = default;
  friend auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

}  // namespace rz::net
