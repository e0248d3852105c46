// TCP segments on the wire (RFC 9293 3.1, options 3.2, RFC 7323, RFC 2018):
// the header view, option parsing and building, and sequence-number
// arithmetic modulo 2^32 (3.4).
//
// Header (20 bytes + options): src port(2) dst port(2) seq(4) ack(4)
// data offset(4 bits) reserved(4) flags(8) window(2) checksum(2) urgent(2).
// The checksum covers a pseudo-header (src, dst, 0, 6, TCP length), the
// header and the data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "net/addresses.hpp"

namespace rz::net::tcp {

inline constexpr std::size_t min_header_size = 20;
inline constexpr std::size_t max_header_size = 60;
inline constexpr std::uint16_t default_mss = 536;  // RFC 9293 3.7.1 (MUST-15)

// Flags (the low 8 bits of byte 13).
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;

// Option kinds.
inline constexpr std::uint8_t opt_end = 0;
inline constexpr std::uint8_t opt_nop = 1;
inline constexpr std::uint8_t opt_mss = 2;
inline constexpr std::uint8_t opt_wscale = 3;
inline constexpr std::uint8_t opt_sack_permitted = 4;
inline constexpr std::uint8_t opt_sack = 5;
inline constexpr std::uint8_t opt_timestamps = 8;
inline constexpr std::uint8_t max_wscale = 14;  // RFC 7323 2.3

// Sequence space comparisons (RFC 9293 3.4), correct across the wrap.
inline bool seq_lt(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}
inline bool seq_le(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) <= 0;
}
inline bool seq_gt(std::uint32_t a, std::uint32_t b) {
  return seq_lt(b, a);
}
inline bool seq_ge(std::uint32_t a, std::uint32_t b) {
  return seq_le(b, a);
}
// lo <= x < hi in sequence space.
inline bool seq_in(std::uint32_t x, std::uint32_t lo, std::uint32_t hi) {
  return seq_le(lo, x) && seq_lt(x, hi);
}

struct Options {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;  // as received (may exceed 14; callers clamp)
  bool sack_permitted = false;
  bool timestamps = false;
  std::uint32_t ts_val = 0;
  std::uint32_t ts_ecr = 0;
  // The list had a length below 2 or running past the header (MUST-7): the
  // options before it are kept, the rest ignored, the segment processed.
  bool malformed = false;

  // Parses an option list (RFC 9293 3.2: MUST-4 any option in any segment,
  // MUST-6 unknown kinds skipped by their length). Options with a wrong
  // fixed length are ignored, as Linux does. END stops the parse.
  static Options parse(std::span<const std::uint8_t> bytes);
  // Writes the options (aligned with NOPs to 4 bytes) and returns their size;
  // `out` must hold 40 bytes. sack_permitted/wscale/mss only belong in SYNs.
  std::size_t emit(std::span<std::uint8_t> out) const;
};

struct Segment {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t header_size = min_header_size;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t checksum = 0;
  std::uint16_t urgent = 0;
  Options options;
  std::span<const std::uint8_t> payload;

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  // SEG.LEN: the data plus one for SYN and one for FIN (3.4).
  std::uint32_t length() const {
    return static_cast<std::uint32_t>(payload.size()) + (has(syn) ? 1 : 0) + (has(fin) ? 1 : 0);
  }

  enum class Error { truncated, bad_offset, bad_checksum };
  // Validates the length (20 <= data offset * 4 <= the bytes there are) and
  // the checksum over the pseudo-header (MUST-2); parses the options.
  static std::optional<Segment> parse(std::span<const std::uint8_t> bytes, Ipv4Address src,
                                      Ipv4Address dst, Error& why);
};

// Writes a header with `options` at the front of `out` (which must hold
// max_header_size) and returns its size; the checksum field is zero.
std::size_t emit_header(std::span<std::uint8_t> out, std::uint16_t src_port, std::uint16_t dst_port,
                        std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                        std::uint16_t window, const Options& options);
// The checksum of a whole segment (header with a zero checksum field, then
// data) between src and dst.
std::uint16_t checksum(std::span<const std::uint8_t> segment, Ipv4Address src, Ipv4Address dst);

}  // namespace rz::net::tcp
