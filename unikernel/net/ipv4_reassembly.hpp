// IPv4 reassembly (RFC 791 3.2 "Fragmentation and Reassembly", RFC 815,
// RFC 1122 3.3.2).
//
// Datagrams are keyed by (source, destination, protocol, id). A fragment's
// data is copied, on arrival, into fixed 1 KiB chunks of one arena
// allocated at start-up (the NIC's packet goes back to the pool at once, so
// fragments never starve the receive ring); the chunk for datagram byte n
// is chunks[n / 1024]. A completed datagram is copied once into the single
// output buffer (header + payload, contiguous) and handed up; it is valid
// until the next add().
//
// Policy (what Linux does for IPv4 since 2018; RFC 5722's spirit):
// - a fragment entirely inside bytes already received is a duplicate: it is
//   dropped and the datagram kept (the first copy wins);
// - any other overlap drops the whole datagram;
// - a second, different last fragment, or data beyond the last one, drops
//   the whole datagram (inconsistent);
// - data of a non-last fragment is trimmed to a multiple of 8 bytes;
// - more than 65535 bytes (header included) drops the whole datagram;
// - the timer (Config::ipfrag_time_ms) runs from the first fragment to
//   arrive; on expiry the caller gets the first fragment's header and data
//   (if it came) to quote in an ICMP Time Exceeded (code 1).
// Bounds: max_datagrams in progress and chunk_count chunks buffered (when
// full, the oldest datagram is dropped), max_fragments per datagram and
// max_pieces disjoint pieces per datagram (beyond: the datagram is dropped).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "net/addresses.hpp"
#include "net/counters.hpp"

namespace rz::net {

class Reassembler {
 public:
  static constexpr std::size_t max_datagrams = 32;
  static constexpr std::size_t chunk_size = 1024;
  static constexpr std::size_t chunk_count = 256;  // 256 KiB buffered at most
  static constexpr std::size_t max_fragments = 1024;
  static constexpr std::size_t max_pieces = 16;
  static constexpr std::size_t max_size = 65535;
  static constexpr std::size_t quote_size = 576 - 20 - 8;  // RFC 1812 4.3.2.3

  struct Fragment {
    Ipv4Address src;
    Ipv4Address dst;
    std::uint8_t protocol = 0;
    std::uint16_t id = 0;
    std::uint16_t offset = 0;  // bytes
    bool more = false;
    std::span<const std::uint8_t> header;  // raw header, options included
    std::span<const std::uint8_t> payload;
    bool link_broadcast = false;
  };
  struct Datagram {
    std::span<std::uint8_t> bytes;  // header (MF and offset cleared) + payload
    std::size_t header_size;
    bool link_broadcast;
  };
  // (quote = the first fragment's header and first data bytes, link_broadcast)
  using TimeoutHandler = std::function<void(std::span<const std::uint8_t> quote, bool)>;

  Reassembler(const std::uint32_t& timeout_ms, Counters& counters);

  // Adds a fragment; the datagram when it is complete.
  std::optional<Datagram> add(const Fragment& f, std::uint64_t now);
  // Drops datagrams older than the timeout; calls on_timeout for each one
  // whose first fragment arrived.
  void tick(std::uint64_t now, const TimeoutHandler& on_timeout);
  std::size_t in_progress() const;
  std::size_t chunks_free() const { return free_count_; }

 private:
  struct Piece {
    std::uint32_t begin;
    std::uint32_t end;
  };
  struct Slot {
    bool used = false;
    Ipv4Address src;
    Ipv4Address dst;
    std::uint8_t protocol = 0;
    std::uint16_t id = 0;
    std::uint64_t created_ms = 0;
    bool link_broadcast = false;
    bool have_last = false;
    std::uint32_t total = 0;             // payload bytes, once the last fragment came
    std::uint8_t first_header_size = 0;  // 0 until the fragment at offset 0
    std::array<std::uint8_t, 60> first_header{};
    std::array<Piece, max_pieces> pieces{};  // sorted, disjoint, not adjacent
    std::size_t piece_count = 0;
    std::size_t fragments = 0;
    std::array<std::uint16_t, (max_size + chunk_size - 1) / chunk_size> chunks{};  // index + 1
  };

  Slot* find(const Fragment& f);
  Slot& create(const Fragment& f, std::uint64_t now);
  void drop(Slot& s);
  bool store(Slot& s, std::uint32_t offset, std::span<const std::uint8_t> data);
  bool add_piece(Slot& s, std::uint32_t begin, std::uint32_t end);
  Datagram assemble(Slot& s);

  const std::uint32_t& timeout_ms_;
  Counters& counters_;
  std::array<Slot, max_datagrams> slots_;
  std::unique_ptr<std::uint8_t[]> arena_;  // chunk_count * chunk_size
  std::unique_ptr<std::uint16_t[]> free_;  // stack of free chunk indexes
  std::size_t free_count_ = 0;
  std::unique_ptr<std::uint8_t[]> output_;  // 60 + 65535
  std::array<std::uint8_t, quote_size> quote_{};
};

}  // namespace rz::net
