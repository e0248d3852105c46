// The DHCP client (RFC 2131, RFC 2132) through the whole stack over the fake
// NIC: messages on the wire, retransmission timing, the states, probing,
// and what malformed replies do (nothing).
#include <vector>

#include "net_fixture.hpp"

namespace rz::net::test {
namespace {

constexpr Ipv4Address server_ip{0x0a000001};   // 10.0.0.1
constexpr Ipv4Address offered_ip{0x0a000032};  // 10.0.0.50
constexpr MacAddress server_mac = gw_mac;

// A client message, decoded from a sent frame.
struct Sent {
  Frame frame;
  std::uint8_t op = 0;
  std::uint32_t xid = 0;
  std::uint16_t secs = 0;
  Ipv4Address ciaddr;
  MacAddress chaddr;
  std::map<std::uint8_t, Bytes> options;
  std::uint8_t type() const { return options.count(53) ? options.at(53)[0] : 0; }
  std::optional<Ipv4Address> address(std::uint8_t code) const {
    if (!options.count(code) || options.at(code).size() != 4) return std::nullopt;
    return Ipv4Address{get32(options.at(code), 0)};
  }
};

std::optional<Sent> as_dhcp(const Frame& f) {
  if (f.type != 0x0800 || f.ip_proto() != 17) return std::nullopt;
  auto u = f.ip_payload();
  if (u.size() < 8 + 240 || get16(u, 0) != 68 || get16(u, 2) != 67) return std::nullopt;
  auto m = u.subspan(8);
  Sent s;
  s.frame = f;
  s.op = m[0];
  s.xid = get32(m, 4);
  s.secs = get16(m, 8);
  s.ciaddr = Ipv4Address{get32(m, 12)};
  s.chaddr = get_mac(m, 28);
  REQUIRE(get32(m, 236) == 0x63825363);
  for (std::size_t i = 240; i < m.size();) {
    if (m[i] == 0) {
      ++i;
      continue;
    }
    if (m[i] == 255) break;
    REQUIRE(i + 2 + m[i + 1] <= m.size());
    s.options[m[i]] = Bytes(m.begin() + static_cast<std::ptrdiff_t>(i + 2),
                            m.begin() + static_cast<std::ptrdiff_t>(i + 2 + m[i + 1]));
    i += 2 + m[i + 1];
  }
  return s;
}

std::vector<Sent> dhcp_sent(Net& net) {
  std::vector<Sent> out;
  for (auto& f : net.take())
    if (auto s = as_dhcp(f)) out.push_back(*s);
  return out;
}

Bytes option(std::uint8_t code, const Bytes& value) {
  Bytes b{code, static_cast<std::uint8_t>(value.size())};
  b.insert(b.end(), value.begin(), value.end());
  return b;
}
Bytes addr(Ipv4Address a) {
  Bytes b;
  put32(b, a.value);
  return b;
}
Bytes u32(std::uint32_t v) {
  Bytes b;
  put32(b, v);
  return b;
}

struct ReplySpec {
  std::uint8_t type = 2;
  std::uint32_t xid = 0;
  Ipv4Address yiaddr = offered_ip;
  MacAddress chaddr = our_mac;
  std::optional<Ipv4Address> server = server_ip;
  std::uint32_t lease_s = 100;
  Bytes extra;                     // more options, before END
  bool end = true;                 // END option
  bool standard = true;            // mask, router, DNS, lease
  bool with_type = true;           // the message type option
  std::optional<Ipv4Address> dst;  // the IP destination; yiaddr by default
};

// A server's BOOTREPLY as a frame to our MAC (unicast to the offered address).
Bytes reply(const ReplySpec& r, Ipv4Address from = server_ip, MacAddress from_mac = server_mac) {
  Bytes m(236, 0);
  m[0] = 2;
  m[1] = 1;
  m[2] = 6;
  m[4] = static_cast<std::uint8_t>(r.xid >> 24);
  m[5] = static_cast<std::uint8_t>(r.xid >> 16);
  m[6] = static_cast<std::uint8_t>(r.xid >> 8);
  m[7] = static_cast<std::uint8_t>(r.xid);
  Bytes y = addr(r.yiaddr);
  std::copy(y.begin(), y.end(), m.begin() + 16);
  std::copy(r.chaddr.bytes.begin(), r.chaddr.bytes.end(), m.begin() + 28);
  put32(m, 0x63825363);
  Bytes opts = r.with_type ? option(53, {r.type}) : Bytes{};
  if (r.server) {
    Bytes o = option(54, addr(*r.server));
    opts.insert(opts.end(), o.begin(), o.end());
  }
  if (r.standard) {
    for (const Bytes& o : {option(1, addr(Ipv4Address{0xffffff00})), option(3, addr(server_ip)),
                           option(6, addr(Ipv4Address{0x0a000035})), option(51, u32(r.lease_s))})
      opts.insert(opts.end(), o.begin(), o.end());
  }
  opts.insert(opts.end(), r.extra.begin(), r.extra.end());
  if (r.end) opts.push_back(255);
  m.insert(m.end(), opts.begin(), opts.end());
  IpFields f;
  f.proto = 17;
  f.src = from;
  f.dst = r.dst.value_or(r.yiaddr);
  MacAddress to = f.dst == Ipv4Address::limited_broadcast() ? MacAddress::broadcast() : our_mac;
  return eth(to, from_mac, 0x0800, ip_datagram(f, udp_datagram(67, 68, m, from, f.dst)));
}

// A client with DHCP, no probing unless asked.
struct Client : Net {
  explicit Client(std::string_view extra = "arp_probes=0")
      : Net(std::string("ip=dhcp icmp_ratelimit=1000 ") + std::string(extra)) {
    stack.start(now);
  }
  Dhcp& dhcp() { return *stack.dhcp(); }
  // The server asks for our leased address: now we know its MAC.
  void learn_server() {
    inject(eth(MacAddress::broadcast(), server_mac, 0x0806,
               arp_packet(1, server_mac, server_ip, MacAddress{}, offered_ip)));
    take();
  }
  // Runs the exchange to BOUND; returns the REQUEST.
  // OFFER for the DISCOVER, ACK for the REQUEST; returns the REQUEST.
  Sent ack(std::uint32_t lease_s = 100) {
    auto d = dhcp_sent(*this);
    REQUIRE(d.size() == 1);
    ReplySpec offer;
    offer.xid = d[0].xid;
    offer.lease_s = lease_s;
    inject(reply(offer));
    auto r = dhcp_sent(*this);
    REQUIRE(r.size() == 1);
    ReplySpec ack = offer;
    ack.type = 5;
    inject(reply(ack));
    return r[0];
  }
  Sent bind(std::uint32_t lease_s = 100) {
    Sent r = ack(lease_s);
    REQUIRE(dhcp().state() == Dhcp::State::bound);
    take();
    return r;
  }
};

}  // namespace

TEST_CASE("dhcp: DISCOVER - broadcast from 0.0.0.0:68 to 255.255.255.255:67, as RFC 2131 4.1") {
  Client c;
  auto d = dhcp_sent(c);
  REQUIRE(d.size() == 1);
  CHECK(d[0].frame.dst == MacAddress::broadcast());
  CHECK(d[0].frame.ip_src() == Ipv4Address::any());
  CHECK(d[0].frame.ip_dst() == Ipv4Address::limited_broadcast());
  CHECK(udp_checksum_ok(d[0].frame.ip_payload(), Ipv4Address::any(),
                        Ipv4Address::limited_broadcast()));
  CHECK(d[0].op == 1);
  CHECK(d[0].chaddr == our_mac);
  CHECK(d[0].type() == 1);
  CHECK(d[0].options.count(55));  // parameter request list
  const Bytes& wanted = d[0].options[55];
  for (std::uint8_t code : {1, 3, 6, 51, 54})
    CHECK(std::find(wanted.begin(), wanted.end(), code) != wanted.end());
  CHECK(d[0].frame.ip_payload().size() >= 8 + 300);  // RFC 1542 minimum
  CHECK(c.dhcp().state() == Dhcp::State::selecting);
  CHECK_FALSE(c.stack.configured());
}

TEST_CASE("dhcp: retransmission - 4 s doubling to 64 s, each within +-1 s (RFC 2131 4.1)") {
  Client c;
  auto first = dhcp_sent(c);
  REQUIRE(first.size() == 1);
  std::uint64_t last = c.now;
  std::uint64_t expected = 4000;
  for (int i = 0; i < 7; ++i) {
    std::vector<Sent> d;
    std::uint64_t start = c.now;
    while (d.empty() && c.now - start < 70'000) {
      c.advance(100);
      d = dhcp_sent(c);
    }
    REQUIRE(d.size() == 1);
    std::uint64_t gap = c.now - last;
    INFO("retransmission ", i, " after ", gap, " ms");
    CHECK(gap + 100 >= expected - 1000);
    CHECK(gap <= expected + 1000 + 100);
    CHECK(d[0].xid == first[0].xid);  // the same transaction
    CHECK(d[0].type() == 1);
    last = c.now;
    expected = std::min<std::uint64_t>(expected * 2, 64000);
  }
}

TEST_CASE("dhcp: OFFER, REQUEST naming it, ACK: bound with the lease's settings") {
  Client c;
  auto d = dhcp_sent(c);
  ReplySpec offer;
  offer.xid = d[0].xid;
  c.inject(reply(offer));
  auto r = dhcp_sent(c);
  REQUIRE(r.size() == 1);
  CHECK(r[0].type() == 3);
  CHECK(r[0].xid == d[0].xid);
  CHECK(r[0].frame.ip_dst() == Ipv4Address::limited_broadcast());
  CHECK(r[0].ciaddr == Ipv4Address::any());
  CHECK(r[0].address(50) == offered_ip);
  CHECK(r[0].address(54) == server_ip);
  CHECK(c.dhcp().state() == Dhcp::State::requesting);
  ReplySpec ack = offer;
  ack.type = 5;
  c.inject(reply(ack));
  CHECK(c.dhcp().state() == Dhcp::State::bound);
  CHECK(c.stack.config().address == offered_ip);
  CHECK(c.stack.config().prefix == 24);
  CHECK(c.stack.config().gateway == server_ip);
  const auto& lease = *c.dhcp().lease();
  CHECK(lease.lease_s == 100);
  CHECK(lease.dns_count == 1);
  CHECK(lease.dns[0] == Ipv4Address{0x0a000035});
  CHECK(lease.t1_ms >= 47'500);
  CHECK(lease.t1_ms <= 52'500);
  CHECK(lease.t2_ms >= 85'000);
  CHECK(lease.t2_ms <= 90'000);
  // The new address is announced (RFC 5227 2.3).
  auto out = c.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == 0x0806);
  CHECK(get32(out[0].payload(), 14) == offered_ip.value);
  CHECK(get32(out[0].payload(), 24) == offered_ip.value);
}

TEST_CASE("dhcp: the service's wait for an address ends when the lease is bound") {
  Client c;
  int calls = 0;
  c.stack.on_configured([&] { ++calls; });
  CHECK(calls == 0);
  c.bind();
  CHECK(calls == 1);
  c.stack.on_configured([&] { ++calls; });  // already configured: at once
  CHECK(calls == 2);
}

TEST_CASE("dhcp: a second OFFER is not taken; the first server is the one named") {
  Client c;
  auto d = dhcp_sent(c);
  ReplySpec a;
  a.xid = d[0].xid;
  c.inject(reply(a));
  ReplySpec b = a;
  b.server = Ipv4Address{0x0a000003};
  b.yiaddr = Ipv4Address{0x0a000033};
  c.inject(reply(b, Ipv4Address{0x0a000003}));
  auto r = dhcp_sent(c);
  REQUIRE(r.size() == 1);
  CHECK(r[0].address(54) == server_ip);
  CHECK(r[0].address(50) == offered_ip);
  CHECK(c.counter("dhcp.rx.drop.unexpected") == 1);
}

TEST_CASE("dhcp: a lost ACK - the REQUEST is sent again after 4 +-1 s, with the same xid") {
  Client c;
  auto d = dhcp_sent(c);
  ReplySpec offer;
  offer.xid = d[0].xid;
  c.inject(reply(offer));
  auto r1 = dhcp_sent(c);
  REQUIRE(r1.size() == 1);
  std::uint64_t start = c.now;
  std::vector<Sent> r2;
  while (r2.empty() && c.now - start < 10'000) {
    c.advance(100);
    r2 = dhcp_sent(c);
  }
  REQUIRE(r2.size() == 1);
  CHECK(c.now - start >= 3000);
  CHECK(c.now - start <= 5100);
  CHECK(r2[0].type() == 3);
  CHECK(r2[0].xid == r1[0].xid);
  ReplySpec ack = offer;
  ack.type = 5;
  c.inject(reply(ack));
  CHECK(c.dhcp().state() == Dhcp::State::bound);
}

TEST_CASE("dhcp: REQUESTs unanswered four times: back to DISCOVER") {
  Client c;
  auto d = dhcp_sent(c);
  ReplySpec offer;
  offer.xid = d[0].xid;
  c.inject(reply(offer));
  // 4 + 8 + 16 + 32 s (+-1 s each) of REQUESTs, then INIT again.
  std::uint64_t start = c.now;
  while (c.dhcp().stats().discovers < 2 && c.now - start < 100'000) c.advance(100);
  CHECK(c.dhcp().stats().requests == Dhcp::max_requests);
  CHECK(c.dhcp().stats().discovers == 2);
  CHECK(c.now - start >= 56'000);
  CHECK(c.now - start <= 64'100);
  CHECK(c.dhcp().state() == Dhcp::State::selecting);
}

TEST_CASE("dhcp: a NAK restarts at DISCOVER with a new xid") {
  Client c;
  auto d = dhcp_sent(c);
  ReplySpec offer;
  offer.xid = d[0].xid;
  c.inject(reply(offer));
  dhcp_sent(c);
  ReplySpec nak = offer;
  nak.type = 6;
  nak.standard = false;
  nak.yiaddr = Ipv4Address::any();
  nak.dst = Ipv4Address::limited_broadcast();  // RFC 2131 4.3.2: NAKs are broadcast
  c.inject(reply(nak));
  auto again = dhcp_sent(c);
  REQUIRE(again.size() == 1);
  CHECK(again[0].type() == 1);
  CHECK(again[0].xid != d[0].xid);
  CHECK(c.dhcp().state() == Dhcp::State::selecting);
  CHECK(c.counter("dhcp.naks") == 1);
}

TEST_CASE("dhcp: renewing at T1 - REQUEST unicast to the server with ciaddr, then renewed") {
  Client c;
  c.bind(100);
  const auto lease = *c.dhcp().lease();
  c.learn_server();
  std::vector<Sent> r;
  std::uint64_t start = c.now;
  while (r.empty() && c.now - start < 100'000) {
    c.advance(100);
    r = dhcp_sent(c);
  }
  REQUIRE(r.size() == 1);
  CHECK(c.now - start >= lease.t1_ms);
  CHECK(c.now - start <= lease.t1_ms + 200);
  CHECK(c.dhcp().state() == Dhcp::State::renewing);
  CHECK(r[0].type() == 3);
  CHECK(r[0].frame.dst == server_mac);
  CHECK(r[0].frame.ip_dst() == server_ip);
  CHECK(r[0].frame.ip_src() == offered_ip);
  CHECK(r[0].ciaddr == offered_ip);
  CHECK_FALSE(r[0].options.count(50));  // RFC 2131 4.3.2: not in RENEWING
  CHECK_FALSE(r[0].options.count(54));
  ReplySpec ack;
  ack.type = 5;
  ack.xid = r[0].xid;
  ack.lease_s = 200;
  c.inject(reply(ack));
  CHECK(c.dhcp().state() == Dhcp::State::bound);
  CHECK(c.dhcp().lease()->lease_s == 200);
  CHECK(c.stack.config().address == offered_ip);
}

TEST_CASE("dhcp: rebinding at T2 - broadcast REQUEST; the lease ends: no address, DISCOVER") {
  Client c;
  c.bind(100);
  const auto lease = *c.dhcp().lease();
  c.learn_server();
  std::uint64_t start = c.now;
  std::vector<std::pair<std::uint64_t, Sent>> seen;
  while (c.now - start < 101'000) {
    c.advance(100);
    for (auto& s : dhcp_sent(c)) seen.push_back({c.now - start, s});
  }
  // T1: unicast; T2: broadcast; then the lease is over.
  REQUIRE(seen.size() >= 3);
  CHECK(seen[0].second.frame.ip_dst() == server_ip);
  auto rebind = std::find_if(seen.begin(), seen.end(), [](const auto& p) {
    return p.second.type() == 3 && p.second.frame.ip_dst() == Ipv4Address::limited_broadcast();
  });
  REQUIRE(rebind != seen.end());
  CHECK(rebind->first >= lease.t2_ms);
  CHECK(rebind->first <= lease.t2_ms + 200);
  CHECK(rebind->second.ciaddr == offered_ip);
  CHECK(rebind->second.frame.ip_src() == offered_ip);
  CHECK(seen.back().second.type() == 1);
  CHECK(seen.back().first >= 100'000);
  CHECK_FALSE(c.stack.configured());
  CHECK(c.counter("dhcp.lease_expired") == 1);
}

TEST_CASE("dhcp: malformed replies are dropped and counted; the exchange goes on") {
  Client c;
  auto d = dhcp_sent(c);
  ReplySpec good;
  good.xid = d[0].xid;
  SUBCASE("truncated option") {
    ReplySpec r = good;
    r.extra = {6, 8, 10, 0, 0};  // DNS, says 8 bytes, 3 there, then END
    c.inject(reply(r));
    CHECK(c.counter("dhcp.rx.drop.bad_options") == 1);
  }
  SUBCASE("an option running past the end of the message") {
    ReplySpec r = good;
    r.end = false;
    r.extra = {12, 200, 'a', 'b'};
    c.inject(reply(r));
    CHECK(c.counter("dhcp.rx.drop.bad_options") == 1);
  }
  SUBCASE("no END option") {
    ReplySpec r = good;
    r.end = false;
    c.inject(reply(r));
    CHECK(c.counter("dhcp.rx.drop.bad_options") == 1);
  }
  SUBCASE("wrong length for a fixed-length option") {
    ReplySpec r = good;
    r.extra = {1, 5, 255, 255, 255, 0, 0};
    c.inject(reply(r));
    CHECK(c.counter("dhcp.rx.drop.bad_options") == 1);
  }
  SUBCASE("no message type") {
    ReplySpec r = good;
    r.with_type = false;
    c.inject(reply(r));
    CHECK(c.counter("dhcp.rx.drop.bad_options") == 1);
  }
  SUBCASE("bad magic cookie") {
    Bytes frame = reply(good);
    std::size_t cookie = 14 + 20 + 8 + 236;
    frame[cookie] ^= 0xff;
    // The UDP checksum covers it: send it without one.
    frame[14 + 20 + 6] = 0;
    frame[14 + 20 + 7] = 0;
    c.inject(frame);
    CHECK(c.counter("dhcp.rx.drop.malformed") == 1);
  }
  SUBCASE("another transaction, another MAC") {
    ReplySpec r = good;
    r.xid ^= 1;
    c.inject(reply(r));
    r = good;
    r.chaddr = peer_mac;
    c.inject(reply(r));
    CHECK(c.counter("dhcp.rx.drop.not_ours") == 2);
  }
  CHECK(c.dhcp().state() == Dhcp::State::selecting);
  CHECK(dhcp_sent(c).empty());
  // The good one still works.
  c.inject(reply(good));
  CHECK(c.dhcp().state() == Dhcp::State::requesting);
}

TEST_CASE("dhcp: RFC 5227 probing - an answer means DECLINE, ten seconds, DISCOVER") {
  Client c("arp_probes=2");
  c.ack();
  CHECK(c.dhcp().state() == Dhcp::State::probing);
  CHECK_FALSE(c.stack.configured());
  // The first probe within PROBE_WAIT (1 s): ARP request, sender 0.0.0.0.
  c.advance(1100);
  auto out = c.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == 0x0806);
  CHECK(get32(out[0].payload(), 14) == 0);
  CHECK(get32(out[0].payload(), 24) == offered_ip.value);
  // Someone has it.
  MacAddress other{{0x02, 0, 0, 0, 0, 0x77}};
  c.inject(eth(our_mac, other, 0x0806, arp_packet(2, other, offered_ip, our_mac, Ipv4Address{})));
  auto decline = dhcp_sent(c);
  REQUIRE(decline.size() == 1);
  CHECK(decline[0].type() == 4);
  CHECK(decline[0].address(50) == offered_ip);
  CHECK(decline[0].address(54) == server_ip);
  CHECK(decline[0].frame.ip_dst() == Ipv4Address::limited_broadcast());
  CHECK(decline[0].frame.ip_src() == Ipv4Address::any());
  CHECK(c.dhcp().state() == Dhcp::State::declined);
  CHECK_FALSE(c.stack.configured());
  c.advance(9800);
  CHECK(dhcp_sent(c).empty());
  c.advance(400);
  auto again = dhcp_sent(c);
  REQUIRE(again.size() == 1);
  CHECK(again[0].type() == 1);
}

TEST_CASE("dhcp: RFC 5227 probing - silence means the address is ours after ANNOUNCE_WAIT") {
  Client c("arp_probes=3");
  c.ack();
  std::vector<std::uint64_t> probes;
  std::uint64_t start = c.now;
  while (c.dhcp().state() == Dhcp::State::probing && c.now - start < 20'000) {
    c.advance(100);
    for (auto& f : c.take())
      if (f.type == 0x0806 && get32(f.payload(), 14) == 0) probes.push_back(c.now - start);
  }
  CHECK(c.dhcp().state() == Dhcp::State::bound);
  REQUIRE(probes.size() == 3);
  CHECK(probes[0] <= 1100);
  CHECK(probes[1] - probes[0] >= 1000);
  CHECK(probes[1] - probes[0] <= 2100);
  CHECK(probes[2] - probes[1] >= 1000);
  CHECK(probes[2] - probes[1] <= 2100);
  CHECK(c.now - start - probes[2] >= 2000);  // ANNOUNCE_WAIT
  CHECK(c.stack.config().address == offered_ip);
}

TEST_CASE("dhcp: no lease in dhcp_timeout seconds: the fallback address") {
  Client c("arp_probes=0 dhcp_fallback=10.0.0.9/24 gw=10.0.0.1 dhcp_timeout=5");
  c.advance(4900);
  CHECK_FALSE(c.stack.configured());
  c.advance(200);
  CHECK(c.dhcp().state() == Dhcp::State::fallback);
  CHECK(c.stack.config().address == Ipv4Address{0x0a000009});
  CHECK(c.stack.config().gateway == server_ip);
  c.take();
  c.advance(70'000);
  CHECK(dhcp_sent(c).empty());  // no more DHCP
}

TEST_CASE("dhcp: an OFFER without a server id, or of an address no host can have, is ignored") {
  Client c;
  auto d = dhcp_sent(c);
  ReplySpec r;
  r.xid = d[0].xid;
  r.server.reset();
  c.inject(reply(r));
  ReplySpec m;
  m.xid = d[0].xid;
  m.yiaddr = Ipv4Address::any();
  m.dst = Ipv4Address::limited_broadcast();
  c.inject(reply(m));
  CHECK(c.dhcp().state() == Dhcp::State::selecting);
  CHECK(c.counter("dhcp.rx.drop.unusable") == 2);
}

}  // namespace rz::net::test

namespace rz::net::test {

TEST_CASE("dhcp: between events the stack sleeps until the next DHCP timer") {
  Client c;
  c.bind(3600);
  c.advance(3000);  // the announcements are over
  CHECK_FALSE(c.stack.needs_tick());
  const auto& lease = *c.dhcp().lease();
  CHECK(c.stack.next_due(c.now) == lease.acquired_ms + lease.t1_ms);
}

}  // namespace rz::net::test

namespace rz::net::test {

TEST_CASE("resolve: the lease's DNS server, or nameserver= from the command line, or none") {
  SUBCASE("none before the lease") {
    Client c;
    CHECK(c.stack.resolve("a.test", c.now, [](const DnsResolver::Result&) {}) ==
          DnsResolver::Error::unreachable);
  }
  SUBCASE("the lease's first DNS server") {
    Client c;
    c.bind();
    CHECK_FALSE(c.stack.resolve("a.test", c.now, [](const DnsResolver::Result&) {}));
    REQUIRE(c.stack.resolver());
    CHECK(c.stack.resolver()->server() == Ipv4Address{0x0a000035});
    // The query waits for ARP; the resolver's retransmission is timed work.
    CHECK(c.stack.next_due(c.now) <= c.now + StackCore::tick_ms);
  }
  SUBCASE("nameserver= wins") {
    Client c("arp_probes=0 nameserver=10.0.0.99");
    c.bind();
    CHECK_FALSE(c.stack.resolve("a.test", c.now, [](const DnsResolver::Result&) {}));
    CHECK(c.stack.resolver()->server() == Ipv4Address{0x0a000063});
  }
}

}  // namespace rz::net::test
