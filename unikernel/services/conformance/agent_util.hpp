// Helpers the agent's command files share: hex text, and request fields.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "services/conformance/json.hpp"

namespace rz::agent {

inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out += "0123456789abcdef"[b >> 4];
    out += "0123456789abcdef"[b & 15];
  }
  return out;
}

inline std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

// A port from the request, or nullopt with the reason in `why`.
inline std::optional<std::uint16_t> port_of(const json::Object& r, std::string_view key,
                                            std::string& why) {
  auto p = r.integer(key);
  if (!p || *p < 0 || *p > 65535) {
    why = "bad request: \"" + std::string(key) + "\" must be a port number";
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(*p);
}

// The suites' pattern (suites/netutil.py): byte i is (7 i + seed) mod 256.
inline std::uint8_t pattern_byte(std::uint64_t i, std::int64_t seed) {
  return static_cast<std::uint8_t>(i * 7 + static_cast<std::uint64_t>(seed));
}

// The payload of a send command: "hex", or "size" bytes of the pattern
// with "seed"; nullopt with the reason in `why`.
inline std::optional<std::vector<std::uint8_t>> payload_of(const json::Object& r,
                                                           std::size_t max_size, std::string& why) {
  if (auto hex = r.string("hex")) {
    auto bytes = from_hex(*hex);
    if (!bytes) why = "bad request: \"hex\" must be pairs of hex digits";
    return bytes;
  }
  std::vector<std::uint8_t> data;
  if (auto size = r.integer("size")) {
    if (*size < 0 || static_cast<std::uint64_t>(*size) > max_size) {
      why = "bad request: \"size\" must be 0.." + std::to_string(max_size);
      return std::nullopt;
    }
    auto seed = r.integer("seed").value_or(0);
    data.resize(static_cast<std::size_t>(*size));
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = pattern_byte(i, seed);
  }
  return data;
}

}  // namespace rz::agent
