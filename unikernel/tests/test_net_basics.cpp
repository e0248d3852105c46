// Addresses, packet buffers, the checksum, the configuration, counters and
// Ethernet framing.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "net/checksum.hpp"
#include "net_fixture.hpp"

using namespace rz::net;
using namespace rz::net::test;

TEST_CASE("MAC addresses parse and format") {
  auto m = MacAddress::parse("52:54:00:Ab:cd:EF");
  REQUIRE(m);
  CHECK(m->to_string() == "52:54:00:ab:cd:ef");
  CHECK_FALSE(MacAddress::parse("52:54:00:ab:cd"));
  CHECK_FALSE(MacAddress::parse("52:54:00:ab:cd:eg"));
  CHECK_FALSE(MacAddress::parse("52-54-00-ab-cd-ef"));
  CHECK_FALSE(MacAddress::parse("52:54:00:ab:cd:ef:"));
  CHECK(MacAddress::broadcast().is_broadcast());
  CHECK(MacAddress::broadcast().is_multicast());
}

TEST_CASE("IPv4 addresses parse and format") {
  CHECK(Ipv4Address::parse("10.33.0.2")->value == 0x0a210002);
  CHECK(Ipv4Address::parse("255.255.255.255")->to_string() == "255.255.255.255");
  CHECK(Ipv4Address{0x0a000102}.to_string() == "10.0.1.2");
  CHECK(Ipv4Address{0}.to_string() == "0.0.0.0");
  for (auto bad : {"", "10.0.0", "10.0.0.256", "10.0.0.1.", "10..0.1", "a.b.c.d", "1.2.3.4 ",
                   "1.2.3.0004", "-1.2.3.4"})
    CHECK_MESSAGE(!Ipv4Address::parse(bad), bad);
}

TEST_CASE("packets grow and shrink inside their buffer; the pool is bounded") {
  PacketPool pool(2);
  auto a = pool.alloc();
  REQUIRE(a);
  CHECK(a->headroom() == Packet::default_headroom);
  CHECK(a->size() == 0);
  CHECK(a->resize(100));
  CHECK(a->push_front(28) != nullptr);
  CHECK(a->size() == 128);
  CHECK(a->push_front(Packet::default_headroom) == nullptr);  // 100 left
  CHECK(a->pull_front(28));
  CHECK_FALSE(a->pull_front(101));
  CHECK_FALSE(a->resize(Packet::buffer_size));
  auto b = pool.alloc(0);
  CHECK(b->headroom() == 0);
  CHECK_FALSE(pool.alloc());
  CHECK(pool.alloc_failures() == 1);
  CHECK(pool.available() == 0);
  a.reset();
  CHECK(pool.available() == 1);
  CHECK(pool.alloc());
}

TEST_CASE("the Internet checksum (RFC 1071 example, pieces of odd length)") {
  // RFC 1071 4.1: the sum of these bytes is 0xddf2, so the checksum ~0xddf2.
  Bytes data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK(internet_checksum(data) == static_cast<std::uint16_t>(~0xddf2));
  Checksum c;
  c.add(std::span(data).first(3));
  c.add(std::span(data).subspan(3, 2));
  c.add(std::span(data).subspan(5));
  CHECK(c.finish() == static_cast<std::uint16_t>(~0xddf2));
  auto p = pattern(1001);
  CHECK(internet_checksum(p) == sum16(p));
}

TEST_CASE("the checksum sums words eight octets at a time, from any start and split") {
  // All-ones words make the one's complement carries that a wide sum folds.
  Bytes ones(77, 0xff);
  for (std::size_t len = 0; len <= ones.size(); ++len)
    CHECK(internet_checksum({ones.data(), len}) == sum16({ones.data(), len}));
  auto p = pattern(300, 7);
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t len = 0; start + len <= 80; ++len) {
      std::span<const std::uint8_t> s{p.data() + start, len};
      CHECK(internet_checksum(s) == sum16(s));
      for (std::size_t cut = 0; cut <= len; cut += 3) {
        Checksum c;
        c.add(s.first(cut));
        c.add(s.subspan(cut));
        CHECK(c.finish() == sum16(s));
      }
    }
  }
}

TEST_CASE("configuration from the command line") {
  std::vector<std::string> log;
  static std::vector<std::string>* sink;
  sink = &log;
  set_log_sink([](std::string_view line) { sink->emplace_back(line); });
  auto c = Config::from_cmdline(
      "quiet ip=10.33.0.2/24 gw=10.33.0.1 mac=52:54:00:33:00:02 arp_ttl=4 ipfrag_time=5 "
      "icmp_ratelimit=250",
      our_mac);
  CHECK(c.address.to_string() == "10.33.0.2");
  CHECK(c.prefix == 24);
  CHECK(c.gateway.to_string() == "10.33.0.1");
  CHECK(c.mac.to_string() == "52:54:00:33:00:02");
  CHECK(c.arp_ttl_ms == 4000);
  CHECK(c.ipfrag_time_ms == 5000);
  CHECK(c.icmp_ratelimit_ms == 250);
  CHECK(log.empty());

  auto d = Config::from_cmdline(
      "ip=10.0.0.300/24 gw=x mac=01:00:5e:00:00:01 arp_ttl=-1 ipfrag_time=0 icmp_ratelimit=1s",
      our_mac);
  CHECK(d.address == Ipv4Address::any());
  CHECK(d.mac == our_mac);
  CHECK(d.arp_ttl_ms == Config{}.arp_ttl_ms);
  CHECK(d.ipfrag_time_ms == Config{}.ipfrag_time_ms);
  CHECK(d.icmp_ratelimit_ms == Config{}.icmp_ratelimit_ms);
  CHECK(log.size() == 6);  // one line per bad value
  CHECK(log[0].find("ip=10.0.0.300/24") != std::string::npos);
  CHECK(Config::from_cmdline("ip=10.0.0.9", our_mac).prefix == 32);
  CHECK(Config::from_cmdline("ip=10.0.0.9/33", our_mac).address == Ipv4Address::any());
  set_log_sink(nullptr);
}

TEST_CASE("every counter is reported once, zeros included") {
  Net net;
  std::set<std::string> names;
  std::size_t n = 0;
  net.stack.for_each_counter([&](std::string_view name, std::uint64_t value) {
    names.emplace(name);
    ++n;
    if (name != "pool.available") CHECK(value == 0);
  });
  CHECK(names.size() == n);
  for (auto want : {"eth.rx.frames",
                    "eth.rx.drop.not_for_us",
                    "eth.rx.drop.unknown_type",
                    "eth.rx.drop.truncated",
                    "arp.rx.drop.bad_hlen",
                    "arp.rx.drop.bad_opcode",
                    "arp.tx.requests",
                    "arp.tx.replies",
                    "arp.queue.dropped",
                    "ipv4.rx.drop.bad_checksum",
                    "ipv4.rx.drop.bad_version",
                    "ipv4.rx.drop.bad_ihl",
                    "ipv4.rx.drop.bad_length",
                    "ipv4.rx.drop.truncated",
                    "ipv4.rx.drop.not_for_us",
                    "ipv4.frag.reassembled",
                    "ipv4.frag.timeout",
                    "ipv4.frag.drop.overlap",
                    "ipv4.frag.drop.oversized",
                    "ipv4.frag.drop.limit",
                    "icmp.rx.drop.bad_checksum",
                    "icmp.tx.echo_replies",
                    "icmp.tx.errors",
                    "icmp.tx.ratelimited",
                    "pool.alloc_failures"})
    CHECK_MESSAGE(names.count(want) == 1, want);
}

TEST_CASE("ethernet: other unicast, unknown types and runts are counted and dropped") {
  Net net;
  MacAddress other{{0x02, 0, 0, 0, 0, 0x99}};
  net.inject(eth(other, peer_mac, 0x0806, arp_packet(1, peer_mac, peer_ip, {}, our_ip)));
  CHECK(net.counter("eth.rx.drop.not_for_us") == 1);
  net.inject(eth(our_mac, peer_mac, 0x86dd, pattern(40)));
  CHECK(net.counter("eth.rx.drop.unknown_type") == 1);
  net.inject(eth(our_mac, peer_mac, 0x0040, pattern(40)));  // an 802.3 length
  CHECK(net.counter("eth.rx.drop.unknown_type") == 2);
  net.inject(Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13});
  CHECK(net.counter("eth.rx.drop.truncated") == 1);
  CHECK(net.counter("eth.rx.frames") == 4);
  CHECK(net.nic.sent.empty());
}

TEST_CASE("ethernet: short frames leave padded to 60 bytes with zeros") {
  Net net;
  net.inject(
      eth(MacAddress::broadcast(), peer_mac, 0x0806, arp_packet(1, peer_mac, peer_ip, {}, our_ip)));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].raw.size() == 60);
  CHECK(std::all_of(out[0].raw.begin() + 42, out[0].raw.end(), [](auto b) { return b == 0; }));
  CHECK(out[0].src == our_mac);
  CHECK(out[0].dst == peer_mac);
}

TEST_CASE("mac= on the command line overrides the NIC's address") {
  Net net("ip=10.0.0.2/24 mac=52:54:00:33:00:02");
  MacAddress mine = *MacAddress::parse("52:54:00:33:00:02");
  net.inject(eth(our_mac, peer_mac, 0x0806, arp_packet(1, peer_mac, peer_ip, {}, our_ip)));
  CHECK(net.counter("eth.rx.drop.not_for_us") == 1);
  net.inject(eth(mine, peer_mac, 0x0806, arp_packet(1, peer_mac, peer_ip, {}, our_ip)));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].src == mine);
  CHECK(get_mac(out[0].payload(), 8) == mine);
}
