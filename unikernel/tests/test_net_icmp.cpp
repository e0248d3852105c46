// ICMP: echo replies of every size, checksums, protocol unreachable, the
// "never send an error about" rules and the rate limit.
#include <doctest/doctest.h>

#include "net_fixture.hpp"

using namespace rz::net;
using namespace rz::net::test;

TEST_CASE("echo replies keep id, sequence and data (0, 56, 1472, 4000 bytes)") {
  for (std::size_t size : {0, 56, 1472, 4000}) {
    CAPTURE(size);
    Net net;
    net.learn();
    auto request = echo_request(0xbeef, 42, pattern(size, 3));
    IpFields f;
    f.tos = 0x10;
    if (size <= 1472)
      net.inject_ip(f, request);
    else
      for (auto& frame : fragments(f, request, 1480)) net.inject(frame);
    auto out = net.take();
    REQUIRE(!out.empty());
    CHECK(out.size() == (size <= 1472 ? 1 : 3));
    for (auto& frame : out) {
      CHECK(frame.dst == peer_mac);
      CHECK(frame.ip_src() == our_ip);
      CHECK(frame.ip_dst() == peer_ip);
      CHECK(frame.ip_ttl() == 64);
      CHECK(frame.ip_proto() == 1);
      CHECK(frame.ip_header_ok());
      CHECK_FALSE(frame.ip_df());
      CHECK(frame.raw.size() - 14 <= 1500);
      CHECK(frame.raw[15] == 0x10);  // TOS echoed
    }
    auto reply = reassemble(out);
    REQUIRE(reply);
    REQUIRE(reply->size() == request.size());
    CHECK((*reply)[0] == 0);
    CHECK((*reply)[1] == 0);
    CHECK(sum16(*reply) == 0);
    CHECK(std::equal(reply->begin() + 4, reply->end(), request.begin() + 4));
    CHECK(net.counter("icmp.tx.echo_replies") == 1);
  }
}

TEST_CASE("an echo with a bad checksum is dropped; truncated too") {
  Net net;
  net.learn();
  auto request = echo_request(1, 1, pattern(30));
  request[5] ^= 1;
  net.inject_ip({}, request);
  CHECK(net.counter("icmp.rx.drop.bad_checksum") == 1);
  net.inject_ip({}, Bytes{8, 0, 0xf7});
  CHECK(net.counter("icmp.rx.drop.truncated") == 1);
  CHECK(net.nic.sent.empty());
}

TEST_CASE("unknown ICMP types and received errors draw nothing") {
  Net net;
  net.learn();
  net.inject_ip({}, icmp_msg(42, 0, 0, pattern(8)));
  net.inject_ip({}, icmp_msg(13, 0, 0, pattern(12)));  // timestamp: not answered
  CHECK(net.counter("icmp.rx.other") == 2);
  IpFields quoted;
  quoted.src = our_ip;
  quoted.dst = peer_ip;
  quoted.proto = 17;
  net.inject_ip({}, icmp_msg(3, 3, 0, ip_datagram(quoted, pattern(8))));
  CHECK(net.counter("icmp.rx.errors") == 1);
  CHECK(net.nic.sent.empty());
}

TEST_CASE("an echo to a broadcast address is not answered") {
  Net net;
  net.learn();
  IpFields f;
  f.dst = subnet_broadcast;
  net.inject_ip(f, echo_request(1, 1, {}), MacAddress::broadcast());
  f.dst = Ipv4Address::limited_broadcast();
  net.inject_ip(f, echo_request(1, 1, {}), MacAddress::broadcast());
  CHECK(net.counter("icmp.rx.drop.broadcast_echo") == 2);
  CHECK(net.nic.sent.empty());
}

TEST_CASE("an unknown protocol gets protocol unreachable quoting header and data") {
  Net net;
  net.learn();
  IpFields f;
  f.proto = 253;
  auto sent = ip_datagram(f, pattern(16));
  net.inject(eth(our_mac, peer_mac, 0x0800, sent));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  auto icmp = out[0].ip_payload();
  CHECK(icmp[0] == 3);
  CHECK(icmp[1] == 2);
  CHECK(get32(icmp, 4) == 0);
  CHECK(sum16(icmp) == 0);
  CHECK(out[0].ip_src() == our_ip);
  CHECK(out[0].ip_dst() == peer_ip);
  auto quoted = icmp.subspan(8);
  REQUIRE(quoted.size() >= 28);
  CHECK(std::equal(quoted.begin(), quoted.begin() + 28, sent.begin()));
  CHECK(net.counter("ipv4.rx.drop.unknown_protocol") == 1);
  CHECK(net.counter("icmp.tx.errors") == 1);
}

TEST_CASE("the quote of a big datagram stops at 576 bytes in all") {
  Net net;
  net.learn();
  IpFields f;
  f.proto = 253;
  net.inject_ip(f, pattern(1400));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].ip_total() == 576);
}

TEST_CASE("no error about an error, a broadcast, a later fragment or a non-host source") {
  Net net("ip=10.0.0.2/24 ipfrag_time=5");
  net.learn();
  // A Destination Unreachable in an unfinished datagram times out silently.
  IpFields f;
  IpFields echo;
  echo.src = our_ip;
  echo.dst = peer_ip;
  auto inner = ip_datagram(echo, icmp_msg(8, 0, 0, pattern(8)));
  inner.resize(2000);
  for (auto& frame : fragments(f, icmp_msg(3, 1, 0, inner), 1480)) {
    net.inject(frame);
    break;
  }
  net.advance(6000);
  CHECK(net.counter("ipv4.frag.timeout") == 1);
  // An unknown protocol to the subnet broadcast, to us in a broadcast
  // frame, in a later fragment, and from 0.0.0.0.
  f.proto = 253;
  f.dst = subnet_broadcast;
  net.inject_ip(f, pattern(16), MacAddress::broadcast());
  f.dst = our_ip;
  net.inject_ip(f, pattern(16), MacAddress::broadcast());
  IpFields later = f;
  later.offset = 1480;
  net.inject_ip(later, pattern(64));
  net.advance(6000);
  IpFields nobody = f;
  nobody.src = Ipv4Address::any();
  net.inject_ip(nobody, pattern(16));
  CHECK(net.nic.sent.empty());
  CHECK(net.counter("icmp.tx.errors") == 0);
  // (the later fragment never reaches ICMP: it times out without a first)
  CHECK(net.counter("icmp.tx.suppressed") == 4);
}

TEST_CASE("errors are rate limited: a burst of 6, then one per icmp_ratelimit") {
  Net net;
  net.learn();
  IpFields f;
  f.proto = 253;
  for (int i = 0; i < 30; ++i) {
    f.id = static_cast<std::uint16_t>(i);
    net.inject_ip(f, pattern(16));
  }
  CHECK(net.take().size() == 6);
  CHECK(net.counter("icmp.tx.ratelimited") == 24);
  net.now += 999;
  net.inject_ip(f, pattern(16));
  CHECK(net.take().empty());
  net.now += 1;
  net.inject_ip(f, pattern(16));
  CHECK(net.take().size() == 1);
  // Another peer has its own bucket.
  net.learn(Ipv4Address{0x0a000006}, MacAddress{{2, 0, 0, 0, 0, 6}});
  f.src = Ipv4Address{0x0a000006};
  net.inject_ip(f, pattern(16));
  CHECK(net.take().size() == 1);
  // Echo replies are not limited.
  for (int i = 0; i < 20; ++i)
    net.inject_ip({}, echo_request(1, static_cast<std::uint16_t>(i), {}));
  CHECK(net.take().size() == 20);
}

TEST_CASE("icmp_ratelimit=0 turns the limit off") {
  Net net("ip=10.0.0.2/24 icmp_ratelimit=0");
  net.learn();
  IpFields f;
  f.proto = 253;
  for (int i = 0; i < 30; ++i) net.inject_ip(f, pattern(16));
  CHECK(net.take().size() == 30);
}

TEST_CASE("an echo reply waits for ARP when the requester is unknown") {
  Net net;
  auto request = echo_request(5, 6, pattern(4000));
  for (auto& frame : fragments({}, request, 1480)) net.inject(frame);
  auto out = net.take();
  REQUIRE(out.size() == 1);  // who-has
  CHECK(out[0].type == 0x0806);
  net.inject(eth(our_mac, peer_mac, 0x0806, arp_packet(2, peer_mac, peer_ip, our_mac, our_ip)));
  out = net.take();
  CHECK(out.size() == 3);
  CHECK(reassemble(out)->size() == request.size());
}

TEST_CASE("the pool running dry drops replies, counted") {
  Net net;
  net.learn();
  std::vector<PacketPtr> hog;
  while (auto p = net.nic.pool().alloc()) hog.push_back(std::move(p));
  hog.pop_back();  // one left: for the injected frame
  auto request = echo_request(5, 6, pattern(100));
  IpFields f;
  f.proto = 253;
  net.inject_ip(f, pattern(16));  // the error needs a new buffer: none
  CHECK(net.counter("pool.alloc_failures") >= 1);
  CHECK(net.counter("ipv4.tx.drop.no_buffer") == 1);
  net.inject_ip({}, request);  // the echo reuses the request's buffer
  CHECK(net.take().size() == 1);
}
