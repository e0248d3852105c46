// ARP (RFC 826): replies, silence, the merge rule, malformed packets, the
// resolution queue, retries, expiry and announcements (RFC 5227).
#include <doctest/doctest.h>

#include "net_fixture.hpp"

using namespace rz::net;
using namespace rz::net::test;

namespace {

constexpr Ipv4Address other_ip{0x0a000007};
constexpr MacAddress other_mac{{0x02, 0, 0, 0, 0, 0x07}};

std::optional<ArpEntryView> entry(Net& net, Ipv4Address ip) {
  std::optional<ArpEntryView> found;
  net.stack.for_each_arp_entry([&](const ArpEntryView& e) {
    if (e.ip == ip) found = e;
  });
  return found;
}

Bytes request_from(MacAddress mac, Ipv4Address ip, Ipv4Address target) {
  return eth(MacAddress::broadcast(), mac, 0x0806, arp_packet(1, mac, ip, MacAddress{}, target));
}

// A who-has for `ip`, broadcast unless `to` is given (a unicast poll).
bool is_request_for(const Frame& f, Ipv4Address ip, MacAddress to = MacAddress::broadcast()) {
  return f.type == 0x0806 && get16(f.payload(), 6) == 1 && get32(f.payload(), 24) == ip.value &&
         f.dst == to;
}

}  // namespace

TEST_CASE("a request for our address gets a reply and teaches us the sender") {
  Net net;
  net.inject(request_from(peer_mac, peer_ip, our_ip));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  auto p = out[0].payload();
  CHECK(out[0].type == 0x0806);
  CHECK(out[0].dst == peer_mac);
  CHECK(get16(p, 0) == 1);
  CHECK(get16(p, 2) == 0x0800);
  CHECK(p[4] == 6);
  CHECK(p[5] == 4);
  CHECK(get16(p, 6) == 2);
  CHECK(get_mac(p, 8) == our_mac);
  CHECK(get32(p, 14) == our_ip.value);
  CHECK(get_mac(p, 18) == peer_mac);
  CHECK(get32(p, 24) == peer_ip.value);
  auto e = entry(net, peer_ip);
  REQUIRE(e);
  CHECK(e->resolved);
  CHECK(e->mac == peer_mac);
  CHECK(net.counter("arp.tx.replies") == 1);
}

TEST_CASE("a unicast request is answered too") {
  Net net;
  net.inject(eth(our_mac, peer_mac, 0x0806, arp_packet(1, peer_mac, peer_ip, our_mac, our_ip)));
  CHECK(net.take().size() == 1);
}

TEST_CASE("a request for another address: silence, and no new entry") {
  Net net;
  net.inject(request_from(peer_mac, peer_ip, other_ip));
  CHECK(net.nic.sent.empty());
  CHECK_FALSE(entry(net, peer_ip));
}

TEST_CASE("merge rule: a known sender's MAC is updated by any ARP packet") {
  Net net;
  net.learn();
  MacAddress moved{{0x02, 0, 0, 0, 0, 0x77}};
  net.inject(request_from(moved, peer_ip, other_ip));  // for someone else
  CHECK(net.nic.sent.empty());
  CHECK(entry(net, peer_ip)->mac == moved);
  // Gratuitous ARP (sender = target) from a known host updates it too.
  net.inject(request_from(peer_mac, peer_ip, peer_ip));
  CHECK(entry(net, peer_ip)->mac == peer_mac);
  // ...but does not add an unknown one.
  net.inject(request_from(other_mac, other_ip, other_ip));
  CHECK_FALSE(entry(net, other_ip));
  // Replies reach the new MAC.
  net.inject(request_from(moved, peer_ip, other_ip));
  net.inject_ip({}, echo_request(1, 1, pattern(8)));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].dst == moved);
}

TEST_CASE("malformed ARP packets are ignored and counted by reason") {
  Net net;
  auto good = arp_packet(1, peer_mac, peer_ip, {}, our_ip);
  auto with = [&](std::size_t at, std::uint8_t value) {
    Bytes b = good;
    b[at] = value;
    return eth(MacAddress::broadcast(), peer_mac, 0x0806, b);
  };
  net.inject(with(1, 6));     // htype 6 (IEEE 802)
  net.inject(with(3, 0xdd));  // ptype 0x08dd
  net.inject(with(4, 8));     // hlen
  net.inject(with(5, 16));    // plen
  net.inject(with(7, 9));     // opcode 9
  Bytes cut(good.begin(), good.begin() + 20);
  net.inject(eth(MacAddress::broadcast(), peer_mac, 0x0806, cut));
  net.inject(eth(MacAddress::broadcast(), peer_mac, 0x0806, Bytes{0, 1, 8}));
  CHECK(net.nic.sent.empty());
  CHECK(net.counter("arp.rx.drop.bad_htype") == 1);
  CHECK(net.counter("arp.rx.drop.bad_ptype") == 1);
  CHECK(net.counter("arp.rx.drop.bad_hlen") == 1);
  CHECK(net.counter("arp.rx.drop.bad_plen") == 1);
  CHECK(net.counter("arp.rx.drop.bad_opcode") == 1);
  CHECK(net.counter("arp.rx.drop.truncated") == 2);
  CHECK_FALSE(entry(net, peer_ip));
}

TEST_CASE("a sender claiming our address or a group MAC is ignored") {
  Net net;
  net.inject(request_from(peer_mac, our_ip, our_ip));
  CHECK(net.counter("arp.rx.drop.conflict") == 1);
  net.inject(request_from(MacAddress::broadcast(), peer_ip, our_ip));
  MacAddress group{{0x01, 0x00, 0x5e, 0, 0, 1}};
  net.inject(request_from(group, peer_ip, our_ip));
  CHECK(net.counter("arp.rx.drop.bad_sender") == 2);
  CHECK(net.nic.sent.empty());
  CHECK_FALSE(entry(net, peer_ip));
}

TEST_CASE("an RFC 5227 probe for our address is answered without learning") {
  Net net;
  net.inject(request_from(peer_mac, Ipv4Address::any(), our_ip));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(get16(out[0].payload(), 6) == 2);
  CHECK(get32(out[0].payload(), 24) == 0);
  CHECK_FALSE(entry(net, Ipv4Address::any()));
}

TEST_CASE("datagrams wait for the resolution and leave when the reply comes") {
  Net net;
  const int sent = int(Arp::queue_per_entry) + 2;
  for (int i = 0; i < sent; ++i)
    CHECK(net.stack.send_ipv4({}, peer_ip, 253, pattern(10), net.now) == SendResult::queued);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(is_request_for(out[0], peer_ip));
  CHECK(get32(out[0].payload(), 14) == our_ip.value);
  CHECK(entry(net, peer_ip)->queued == Arp::queue_per_entry);
  CHECK(net.counter("arp.queue.dropped") == 2);
  net.inject(eth(our_mac, peer_mac, 0x0806, arp_packet(2, peer_mac, peer_ip, our_mac, our_ip)));
  out = net.take();
  REQUIRE(out.size() == Arp::queue_per_entry);
  for (auto& f : out) {
    CHECK(f.dst == peer_mac);
    CHECK(f.type == 0x0800);
  }
  // The newest were kept, in order (ids increase).
  CHECK(out.front().ip_id() + Arp::queue_per_entry - 1 == out.back().ip_id());
  CHECK(entry(net, peer_ip)->resolved);
}

TEST_CASE("an unanswered resolution is retried each second, three times, then dropped") {
  Net net;
  net.stack.send_ipv4({}, peer_ip, 253, pattern(10), net.now);
  std::vector<std::uint64_t> asked{net.now};
  net.take();
  for (int i = 0; i < 50; ++i) {
    net.advance(100);
    for (auto& f : net.take())
      if (is_request_for(f, peer_ip)) asked.push_back(net.now);
  }
  REQUIRE(asked.size() == 3);
  CHECK(asked[1] - asked[0] == 1000);
  CHECK(asked[2] - asked[1] == 1000);
  CHECK(net.counter("arp.resolve.failed") == 1);
  CHECK(net.counter("arp.queue.dropped") == 1);
  CHECK_FALSE(entry(net, peer_ip));
}

TEST_CASE("an unused entry expires after arp_ttl and is resolved again on use") {
  Net net("ip=10.0.0.2/24 arp_ttl=4");
  net.learn();
  net.advance(4100);
  CHECK_FALSE(entry(net, peer_ip));
  net.stack.send_ipv4({}, peer_ip, 253, pattern(10), net.now);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(is_request_for(out[0], peer_ip));
  CHECK(out[0].dst == MacAddress::broadcast());
  CHECK(net.counter("arp.cache.expired") == 1);
}

TEST_CASE("an entry in use is polled by unicast at arp_ttl and used meanwhile") {
  Net net("ip=10.0.0.2/24 arp_ttl=4");
  net.learn();
  net.advance(3900);
  net.stack.send_ipv4({}, peer_ip, 253, pattern(10), net.now);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].dst == peer_mac);
  // Past its lifetime: a request to the known MAC (RFC 1122 2.3.2.1), and
  // datagrams still go straight out.
  net.advance(200);
  net.stack.send_ipv4({}, peer_ip, 253, pattern(10), net.now);
  out = net.take();
  REQUIRE(out.size() == 2);
  CHECK(is_request_for(out[0], peer_ip, peer_mac));
  CHECK(out[1].dst == peer_mac);
  CHECK(out[1].type == 0x0800);
  CHECK(net.counter("arp.tx.polls") == 1);
  // The reply renews it.
  net.learn();
  CHECK(entry(net, peer_ip));
  // In use again, then unanswered polls, a second apart, three of them:
  // the entry goes.
  net.advance(1000);
  net.stack.send_ipv4({}, peer_ip, 253, pattern(10), net.now);
  net.advance(6100);
  out = net.take();
  CHECK(net.counter("arp.tx.polls") == 4);
  CHECK_FALSE(entry(net, peer_ip));
  CHECK(net.counter("arp.cache.expired") == 1);
}

TEST_CASE("the cache is bounded: the least recently used entry goes") {
  Net net;
  for (std::uint32_t i = 0; i < Arp::cache_size + 1; ++i) {
    net.now += 1;
    MacAddress m{{0x02, 0, 0, 0, 1, static_cast<std::uint8_t>(i)}};
    net.learn(Ipv4Address{0x0a000100 + i}, m);
  }
  std::size_t n = 0;
  net.stack.for_each_arp_entry([&](const ArpEntryView&) { ++n; });
  CHECK(n == Arp::cache_size);
  CHECK_FALSE(entry(net, Ipv4Address{0x0a000100}));
  CHECK(entry(net, Ipv4Address{0x0a000100 + Arp::cache_size}));
  CHECK(net.counter("arp.cache.evicted") == 1);
}

TEST_CASE("the address is announced twice, 2 s apart (RFC 5227 2.3)") {
  Net net;
  net.stack.start(net.now);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  auto p = out[0].payload();
  CHECK(out[0].dst == MacAddress::broadcast());
  CHECK(get16(p, 6) == 1);
  CHECK(get32(p, 14) == our_ip.value);
  CHECK(get32(p, 24) == our_ip.value);
  CHECK(get_mac(p, 18).is_zero());
  net.advance(1900);
  CHECK(net.take().empty());
  net.advance(100);
  CHECK(net.take().size() == 1);
  net.advance(10'000);
  CHECK(net.take().empty());
  CHECK(net.counter("arp.tx.announcements") == 2);
}

TEST_CASE("no address, no announcement") {
  Net net("gw=10.0.0.1");
  net.stack.start(net.now);
  net.advance(5000);
  CHECK(net.nic.sent.empty());
}

TEST_CASE("routing: on-link directly, off-link via the gateway, else no route") {
  Net net;
  net.learn(gw_ip, gw_mac);
  net.stack.send_ipv4({}, Ipv4Address{0x08080808}, 253, pattern(4), net.now);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].dst == gw_mac);
  CHECK(out[0].ip_dst().value == 0x08080808);
  net.stack.send_ipv4({}, subnet_broadcast, 253, pattern(4), net.now);
  out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].dst == MacAddress::broadcast());

  Net lone("ip=10.0.0.2/24");
  CHECK(lone.stack.send_ipv4({}, Ipv4Address{0x08080808}, 253, pattern(4), lone.now) ==
        SendResult::no_route);
  CHECK(lone.counter("ipv4.tx.drop.no_route") == 1);
  CHECK(lone.nic.sent.empty());
}

TEST_CASE("the stack asks for ticks only while it has timed work") {
  Net net;
  int wakeups = 0;
  net.stack.set_wakeup([&] { ++wakeups; });
  CHECK_FALSE(net.stack.needs_tick());
  net.learn();
  CHECK_FALSE(net.stack.needs_tick());  // a resolved entry expires lazily
  CHECK(net.stack.next_due(net.now) == ~0ull);
  CHECK(wakeups == 1);  // after every input: the driver asks next_due()
  net.stack.send_ipv4({}, other_ip, 253, pattern(4), net.now);
  CHECK(net.stack.needs_tick());
  CHECK(net.stack.next_due(net.now) == net.now + StackCore::tick_ms);
  CHECK(wakeups == 2);
  net.advance(3000);
  CHECK_FALSE(net.stack.needs_tick());  // gave up
  net.inject(fragments({}, echo_request(1, 1, pattern(3000)), 1480)[0]);
  CHECK(net.stack.needs_tick());  // reassembly in progress
  net.advance(30'000);
  net.take();
  CHECK_FALSE(net.stack.needs_tick());
  net.stack.start(net.now);
  CHECK(net.stack.needs_tick());  // the second announcement is due
  net.advance(2000);
  CHECK_FALSE(net.stack.needs_tick());
}
