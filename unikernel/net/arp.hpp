// ARP for IPv4 over Ethernet (RFC 826), with RFC 1122 2.3.2 cache rules and
// RFC 5227 2.3 announcements.
//
// Wire format (28 bytes): htype(2)=1 ptype(2)=0x0800 hlen(1)=6 plen(1)=4
// op(2) sha(6) spa(4) tha(6) tpa(4).
//
// The cache holds a fixed number of entries (oldest-used evicted when full).
// An entry is incomplete while we ask (one request per second, three at
// most, then its queue is dropped) and resolved for Config::arp_ttl_ms after
// its last confirmation; an expired entry is asked for again on next use.
// Datagrams waiting for a resolution are queued per entry, oldest dropped;
// every such drop reaches the drop hook (the UDP layer tells its sockets).
//
// Address conflict detection (RFC 5227 2.1): probe() sends probes (sender
// 0.0.0.0) for an address we want and reports whether anyone else uses it.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "net/addresses.hpp"
#include "net/counters.hpp"
#include "net/ethernet.hpp"
#include "net/ipv4.hpp"
#include "net/stack.hpp"

namespace rz::net::arp {

inline constexpr std::size_t packet_size = 28;
inline constexpr std::uint16_t op_request = 1;
inline constexpr std::uint16_t op_reply = 2;

struct Packet {
  std::uint16_t op = 0;
  MacAddress sha;
  Ipv4Address spa;
  MacAddress tha;
  Ipv4Address tpa;

  enum class Error { truncated, bad_htype, bad_ptype, bad_hlen, bad_plen, bad_opcode };
  // Validates the fixed fields (Ethernet/IPv4 only) and the opcode.
  static std::optional<Packet> parse(std::span<const std::uint8_t> bytes, Error& why);
  // Writes packet_size bytes.
  void emit(std::span<std::uint8_t> out) const;
};

}  // namespace rz::net::arp

namespace rz::net {

class Arp {
 public:
  static constexpr std::size_t cache_size = 128;  // more than a /25 of neighbours
  static constexpr std::size_t queue_per_entry = 64;
  static constexpr std::size_t queue_total = 128;  // over all entries
  static constexpr std::uint64_t retry_ms = 1000;  // RFC 1122 2.3.2.1: at most 1/s
  static constexpr unsigned max_attempts = 3;
  static constexpr std::uint64_t announce_interval_ms = 2000;  // RFC 5227 ANNOUNCE_INTERVAL
  static constexpr unsigned announce_count = 2;                // RFC 5227 ANNOUNCE_NUM

  // RFC 5227 section 1.1 timing.
  static constexpr std::uint64_t probe_wait_ms = 1000;     // PROBE_WAIT
  static constexpr std::uint64_t probe_min_ms = 1000;      // PROBE_MIN
  static constexpr std::uint64_t probe_max_ms = 2000;      // PROBE_MAX
  static constexpr std::uint64_t announce_wait_ms = 2000;  // ANNOUNCE_WAIT

  // A datagram that was queued and is now dropped (window = IP header onwards).
  using DropHook = std::function<void(const Packet& datagram, SendResult why)>;
  // Random numbers in [0, n) for probe timing.
  using Random = std::function<std::uint64_t(std::uint64_t n)>;
  // The outcome of a probe: true when another host uses the address.
  using ProbeDone = std::function<void(bool conflict)>;

  Arp(Ethernet& ethernet, PacketPool& pool, const Config& config, Counters& counters);
  void set_drop_hook(DropHook hook) { drop_hook_ = std::move(hook); }
  void set_random(Random random) { random_ = std::move(random); }

  // An ARP packet (window = the ARP payload, maybe with Ethernet padding).
  void input(PacketPtr packet, const FrameInfo& info, std::uint64_t now);
  // Sends an IPv4 datagram (window = IP header onwards) to `next_hop` on
  // the link, resolving its MAC first when needed: sent, queued, or
  // device_full.
  SendResult send_ipv4(Ipv4Address next_hop, PacketPtr datagram, std::uint64_t now);
  // Sends an IPv4 datagram to the broadcast MAC (no resolution).
  bool send_ipv4_broadcast(PacketPtr datagram) {
    return ethernet_.output(std::move(datagram), MacAddress::broadcast(), ethernet::type_ipv4);
  }
  // Starts probing for `ip` (RFC 5227 2.1.1): `probes` probes after a
  // random wait, then ANNOUNCE_WAIT; `done` runs once, from input() on a
  // conflict or from tick() when the address is free. A probe in progress
  // is abandoned (its `done` never runs). probes = 0 reports "free" at once.
  void probe(Ipv4Address ip, unsigned probes, std::uint64_t now, ProbeDone done);
  bool probing() const { return probe_.active; }
  // Starts the RFC 5227 announcements (the first now, the rest from tick()).
  void announce(std::uint64_t now);
  // Retries, gives up, expires entries, sends due announcements.
  void tick(std::uint64_t now);
  void for_each_entry(const std::function<void(const ArpEntryView&)>& f, std::uint64_t now) const;
  // Whether tick() has anything to do: announcements or resolutions
  // pending (expired entries are also dropped lazily, on use).
  bool busy() const;
  // The resolved MAC of `ip`, if any (for tests and the agent).
  std::optional<MacAddress> lookup(Ipv4Address ip, std::uint64_t now) const;

 private:
  enum class State : std::uint8_t { free, incomplete, resolved };
  struct Entry {
    State state = State::free;
    Ipv4Address ip;
    MacAddress mac;
    std::uint64_t confirmed_ms = 0;  // resolved: last confirmation
    std::uint64_t asked_ms = 0;      // incomplete: last request sent
    std::uint64_t used_ms = 0;       // for choosing a victim
    unsigned attempts = 0;
    // resolved, past its lifetime and in use: being validated by unicast
    // polls, and used meanwhile (RFC 1122 2.3.2.1).
    bool polling = false;
    std::size_t queued = 0;
    std::array<PacketPtr, queue_per_entry> queue;  // oldest first
  };

  Entry* find(Ipv4Address ip);
  const Entry* find(Ipv4Address ip) const;
  Entry& allocate();
  void release(Entry& e);  // drops its queue (counted)
  void resolved(Entry& e, MacAddress mac, std::uint64_t now);
  bool expired(const Entry& e, std::uint64_t now) const;
  void send_request(Ipv4Address target, std::uint64_t now);
  void send_poll(Entry& e, std::uint64_t now);
  void send_announcement();
  void send(std::uint16_t op, MacAddress eth_dst, MacAddress tha, Ipv4Address spa, Ipv4Address tpa,
            PacketPtr reuse);
  void drop(PacketPtr datagram, SendResult why);
  void flush_drops();
  SendResult enqueue_or_send(Ipv4Address next_hop, PacketPtr datagram, std::uint64_t now);
  void receive(PacketPtr packet, const FrameInfo& info, std::uint64_t now);
  void run_timers(std::uint64_t now);  // announcements, retries, expiry
  void probe_input(const arp::Packet& p);
  void probe_tick(std::uint64_t now);
  std::uint64_t random(std::uint64_t n) { return random_ && n ? random_(n) : 0; }

  Ethernet& ethernet_;
  PacketPool& pool_;
  const Config& config_;
  Counters& counters_;
  std::array<Entry, cache_size> entries_;
  std::size_t queued_total_ = 0;
  unsigned announcements_left_ = 0;
  std::uint64_t next_announcement_ms_ = 0;
  DropHook drop_hook_;
  struct Dropped {
    PacketPtr datagram;
    SendResult why;
  };
  std::vector<Dropped> dropped_;
  bool flushing_ = false;
  Random random_;
  struct Probe {
    bool active = false;
    Ipv4Address ip;
    unsigned left = 0;          // probes still to send
    std::uint64_t next_ms = 0;  // next probe, or the end of ANNOUNCE_WAIT
    ProbeDone done;
  } probe_;
};

}  // namespace rz::net
