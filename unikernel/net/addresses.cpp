// Parsing and formatting of MAC and IPv4 addresses.
#include "net/addresses.hpp"

namespace rz::net {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char hex_digits[] = "0123456789abcdef";

}  // namespace

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  // Exactly six pairs of hex digits separated by ':' (17 characters).
  if (text.size() != 17) return std::nullopt;
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i) {
    std::size_t at = i * 3;
    if (i > 0 && text[at - 1] != ':') return std::nullopt;
    int hi = hex_value(text[at]);
    int lo = hex_value(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    mac.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string MacAddress::to_string() const {
  std::string s;
  s.reserve(17);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) s += ':';
    s += hex_digits[bytes[i] >> 4];
    s += hex_digits[bytes[i] & 15];
  }
  return s;
}

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  // Four decimal numbers 0..255 of one to three digits, separated by '.'.
  std::uint32_t value = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    std::uint32_t n = 0;
    std::size_t digits = 0;
    while (!text.empty() && text.front() >= '0' && text.front() <= '9' && digits < 4) {
      n = n * 10 + static_cast<std::uint32_t>(text.front() - '0');
      text.remove_prefix(1);
      ++digits;
    }
    if (digits == 0 || digits > 3 || n > 255) return std::nullopt;
    value = value << 8 | n;
  }
  if (!text.empty()) return std::nullopt;
  return Ipv4Address{value};
}

std::string Ipv4Address::to_string() const {
  std::string s;
  s.reserve(15);
  for (int shift = 24; shift >= 0; shift -= 8) {
    unsigned n = (value >> shift) & 0xff;
    if (shift != 24) s += '.';
    if (n >= 100) s += static_cast<char>('0' + n / 100);
    if (n >= 10) s += static_cast<char>('0' + n / 10 % 10);
    s += static_cast<char>('0' + n % 10);
  }
  return s;
}

}  // namespace rz::net
