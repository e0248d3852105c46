// Test helpers for the network stack: a fake NIC that records what the
// stack sends, builders of frames with correct checksums, a stack fixture
// with a clock the test moves, and a decoder of sent frames. The builders
// write bytes by hand (offsets from the RFCs), independent of the stack's
// own parsers.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/stack_core.hpp"

namespace rz::net::test {

using Bytes = std::vector<std::uint8_t>;

inline constexpr MacAddress our_mac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
inline constexpr MacAddress peer_mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x05}};
inline constexpr MacAddress gw_mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline constexpr Ipv4Address our_ip{0x0a000002};   // 10.0.0.2/24
inline constexpr Ipv4Address peer_ip{0x0a000005};  // 10.0.0.5
inline constexpr Ipv4Address gw_ip{0x0a000001};    // 10.0.0.1
inline constexpr Ipv4Address subnet_broadcast{0x0a0000ff};

class FakeNic : public Nic {
 public:
  explicit FakeNic(std::size_t buffers = 512) : pool_(buffers) {}
  MacAddress mac() const override { return mac_; }
  std::uint16_t mtu() const override { return mtu_; }
  bool transmit(PacketPtr frame) override {
    if (full) return false;
    sent.emplace_back(frame->bytes().begin(), frame->bytes().end());
    return true;
  }
  PacketPool& pool() override { return pool_; }
  NicStats stats() const override { return {}; }

  MacAddress mac_ = our_mac;
  std::uint16_t mtu_ = 1500;
  bool full = false;
  std::vector<Bytes> sent;

 private:
  PacketPool pool_;
};

inline void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}
inline void put(Bytes& b, MacAddress m) {
  b.insert(b.end(), m.bytes.begin(), m.bytes.end());
}
inline std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}
inline std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) {
  return std::uint32_t(get16(b, at)) << 16 | get16(b, at + 2);
}
inline MacAddress get_mac(std::span<const std::uint8_t> b, std::size_t at) {
  MacAddress m;
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), 6, m.bytes.begin());
  return m;
}

// RFC 1071, the slow and obvious way.
inline std::uint16_t sum16(std::span<const std::uint8_t> b) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i < b.size(); i += 2)
    s += std::uint32_t(b[i]) << 8 | (i + 1 < b.size() ? b[i + 1] : 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

inline Bytes pattern(std::size_t n, std::uint8_t seed = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + seed);
  return b;
}

inline Bytes eth(MacAddress dst, MacAddress src, std::uint16_t type, const Bytes& payload) {
  Bytes b;
  put(b, dst);
  put(b, src);
  put16(b, type);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

inline Bytes arp_packet(std::uint16_t op, MacAddress sha, Ipv4Address spa, MacAddress tha,
                        Ipv4Address tpa) {
  Bytes b;
  put16(b, 1);
  put16(b, 0x0800);
  b.push_back(6);
  b.push_back(4);
  put16(b, op);
  put(b, sha);
  put32(b, spa.value);
  put(b, tha);
  put32(b, tpa.value);
  return b;
}

struct IpFields {
  Ipv4Address src = peer_ip;
  Ipv4Address dst = our_ip;
  std::uint8_t proto = 1;
  std::uint16_t id = 0x1234;
  bool mf = false;
  std::uint16_t offset = 0;  // bytes
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  Bytes options;  // a multiple of 4
};

inline Bytes ip_datagram(const IpFields& f, const Bytes& payload) {
  Bytes b;
  std::size_t hs = 20 + f.options.size();
  b.push_back(static_cast<std::uint8_t>(0x40 | hs / 4));
  b.push_back(f.tos);
  put16(b, static_cast<std::uint16_t>(hs + payload.size()));
  put16(b, f.id);
  put16(b, static_cast<std::uint16_t>((f.mf ? 0x2000 : 0) | f.offset / 8));
  b.push_back(f.ttl);
  b.push_back(f.proto);
  put16(b, 0);
  put32(b, f.src.value);
  put32(b, f.dst.value);
  b.insert(b.end(), f.options.begin(), f.options.end());
  std::uint16_t c = sum16({b.data(), hs});
  b[10] = static_cast<std::uint8_t>(c >> 8);
  b[11] = static_cast<std::uint8_t>(c);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

inline Bytes icmp_msg(std::uint8_t type, std::uint8_t code, std::uint32_t rest, const Bytes& data) {
  Bytes b{type, code, 0, 0};
  put32(b, rest);
  b.insert(b.end(), data.begin(), data.end());
  std::uint16_t c = sum16(b);
  b[2] = static_cast<std::uint8_t>(c >> 8);
  b[3] = static_cast<std::uint8_t>(c);
  return b;
}

inline Bytes echo_request(std::uint16_t id, std::uint16_t seq, const Bytes& data) {
  return icmp_msg(8, 0, std::uint32_t(id) << 16 | seq, data);
}

// A UDP datagram (header + data) between src and dst; `checksum` false
// leaves the field zero ("no checksum").
inline Bytes udp_datagram(std::uint16_t src_port, std::uint16_t dst_port, const Bytes& data,
                          Ipv4Address src = peer_ip, Ipv4Address dst = our_ip,
                          bool checksum = true) {
  Bytes b;
  put16(b, src_port);
  put16(b, dst_port);
  put16(b, static_cast<std::uint16_t>(8 + data.size()));
  put16(b, 0);
  b.insert(b.end(), data.begin(), data.end());
  if (checksum) {
    Bytes pseudo;
    put32(pseudo, src.value);
    put32(pseudo, dst.value);
    put16(pseudo, 17);
    put16(pseudo, static_cast<std::uint16_t>(b.size()));
    pseudo.insert(pseudo.end(), b.begin(), b.end());
    std::uint16_t c = sum16(pseudo);
    if (c == 0) c = 0xffff;
    b[6] = static_cast<std::uint8_t>(c >> 8);
    b[7] = static_cast<std::uint8_t>(c);
  }
  return b;
}

// Whether a UDP datagram's checksum is right (or absent) between src and dst.
inline bool udp_checksum_ok(std::span<const std::uint8_t> d, Ipv4Address src, Ipv4Address dst) {
  if (get16(d, 6) == 0) return true;
  Bytes pseudo;
  put32(pseudo, src.value);
  put32(pseudo, dst.value);
  put16(pseudo, 17);
  put16(pseudo, static_cast<std::uint16_t>(d.size()));
  pseudo.insert(pseudo.end(), d.begin(), d.end());
  return sum16(pseudo) == 0;
}

// Splits a whole IP datagram (built with ip_datagram()) into fragments of at most
// `size` data bytes (a multiple of 8), as frames from the peer.
inline std::vector<Bytes> fragments(const IpFields& f, const Bytes& payload, std::size_t size,
                                    MacAddress dst = our_mac) {
  std::vector<Bytes> out;
  for (std::size_t off = 0; off < payload.size() || off == 0; off += size) {
    std::size_t n = std::min(size, payload.size() - off);
    IpFields g = f;
    g.offset = static_cast<std::uint16_t>(off);
    g.mf = off + n < payload.size();
    Bytes piece(payload.begin() + static_cast<std::ptrdiff_t>(off),
                payload.begin() + static_cast<std::ptrdiff_t>(off + n));
    out.push_back(eth(dst, peer_mac, 0x0800, ip_datagram(g, piece)));
    if (payload.empty()) break;
  }
  return out;
}

// A sent frame, decoded.
struct Frame {
  Bytes raw;
  MacAddress dst, src;
  std::uint16_t type = 0;
  std::span<const std::uint8_t> payload() const { return {raw.data() + 14, raw.size() - 14}; }
  // IPv4 fields (valid when type == 0x0800)
  std::size_t ip_header() const { return (raw[14] & 0xf) * 4u; }
  std::uint16_t ip_total() const { return get16(raw, 16); }
  std::uint16_t ip_id() const { return get16(raw, 18); }
  bool ip_df() const { return raw[20] & 0x40; }
  bool ip_mf() const { return raw[20] & 0x20; }
  std::size_t ip_offset() const { return (get16(raw, 20) & 0x1fff) * 8u; }
  std::uint8_t ip_ttl() const { return raw[22]; }
  std::uint8_t ip_proto() const { return raw[23]; }
  Ipv4Address ip_src() const { return {get32(raw, 26)}; }
  Ipv4Address ip_dst() const { return {get32(raw, 30)}; }
  std::span<const std::uint8_t> ip_payload() const {
    return {raw.data() + 14 + ip_header(), ip_total() - ip_header()};
  }
  bool ip_header_ok() const { return sum16({raw.data() + 14, ip_header()}) == 0; }
};

inline Frame decode(const Bytes& raw) {
  Frame f;
  f.raw = raw;
  f.dst = get_mac(raw, 0);
  f.src = get_mac(raw, 6);
  f.type = get16(raw, 12);
  return f;
}

// Joins the IP fragments among `frames` (one datagram) into its payload.
inline std::optional<Bytes> reassemble(const std::vector<Frame>& frames) {
  std::map<std::size_t, Bytes> parts;
  std::size_t total = 0;
  bool last = false;
  for (const auto& f : frames) {
    if (f.type != 0x0800) continue;
    auto p = f.ip_payload();
    parts[f.ip_offset()] = Bytes(p.begin(), p.end());
    if (!f.ip_mf()) {
      last = true;
      total = f.ip_offset() + p.size();
    }
  }
  if (!last) return std::nullopt;
  Bytes out;
  for (auto& [off, b] : parts) {
    if (off != out.size()) return std::nullopt;
    out.insert(out.end(), b.begin(), b.end());
  }
  if (out.size() != total) return std::nullopt;
  return out;
}

// A configured stack over a fake NIC, with a clock the test moves.
struct Net {
  FakeNic nic;
  StackCore stack;
  std::uint64_t now = 10'000;

  explicit Net(std::string_view cmdline = "ip=10.0.0.2/24 gw=10.0.0.1 icmp_ratelimit=1000")
      : stack(nic, Config::from_cmdline(cmdline, our_mac)) {}

  void inject(const Bytes& frame) {
    PacketPtr p = nic.pool().alloc();
    REQUIRE(p);
    REQUIRE(p->resize(frame.size()));
    std::copy(frame.begin(), frame.end(), p->data());
    stack.input(std::move(p), now);
  }
  void inject_ip(const IpFields& f, const Bytes& payload, MacAddress dst = our_mac) {
    inject(eth(dst, peer_mac, 0x0800, ip_datagram(f, payload)));
  }
  // Moves the clock in 100 ms ticks, as the kernel glue does.
  void advance(std::uint64_t ms) {
    for (std::uint64_t end = now + ms; now < end;) {
      now = std::min(end, now + StackCore::tick_ms);
      stack.tick(now);
    }
  }
  std::vector<Frame> take() {
    std::vector<Frame> out;
    for (auto& raw : nic.sent) out.push_back(decode(raw));
    nic.sent.clear();
    return out;
  }
  // Teaches the stack the peer's MAC (an ARP request for our address).
  void learn(Ipv4Address ip = peer_ip, MacAddress mac = peer_mac) {
    inject(eth(MacAddress::broadcast(), mac, 0x0806, arp_packet(1, mac, ip, MacAddress{}, our_ip)));
    nic.sent.clear();
  }
  std::uint64_t counter(std::string_view name) const {
    std::uint64_t value = ~0ull;
    stack.for_each_counter([&](std::string_view n, std::uint64_t v) {
      if (n == name) value = v;
    });
    INFO("counter ", std::string(name));
    REQUIRE(value != ~0ull);
    return value;
  }
};

}  // namespace rz::net::test
