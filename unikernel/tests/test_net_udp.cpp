// UDP (RFC 768, RFC 1122 4.1): parsing, delivery, port unreachable, sending
// and the send results, through the whole stack over the fake NIC.
#include <vector>

#include "net_fixture.hpp"

namespace rz::net::test {
namespace {

struct Received {
  Ipv4Address src;
  std::uint16_t src_port;
  Ipv4Address dst;
  std::uint16_t dst_port;
  Bytes data;
  bool broadcast;
};

// A socket on `port` that records what it receives.
UdpSocket* recorder(Net& net, std::uint16_t port, std::vector<Received>& got) {
  UdpSocket* s = net.stack.udp_bind(port);
  REQUIRE(s);
  s->on_receive([&got](const UdpDatagram& d) {
    got.push_back(
        {d.src, d.src_port, d.dst, d.dst_port, Bytes(d.data.begin(), d.data.end()), d.broadcast});
  });
  return s;
}

IpFields udp_ip(Ipv4Address dst = our_ip) {
  IpFields f;
  f.proto = 17;
  f.dst = dst;
  return f;
}

}  // namespace

TEST_CASE("udp: a datagram reaches the socket bound to its port, with its addresses") {
  Net net;
  std::vector<Received> got;
  recorder(net, 7000, got);
  net.inject_ip(udp_ip(), udp_datagram(40000, 7000, pattern(100)));
  REQUIRE(got.size() == 1);
  CHECK(got[0].src == peer_ip);
  CHECK(got[0].src_port == 40000);
  CHECK(got[0].dst == our_ip);
  CHECK(got[0].dst_port == 7000);
  CHECK(got[0].data == pattern(100));
  CHECK_FALSE(got[0].broadcast);
  CHECK(net.counter("udp.rx.delivered") == 1);
  CHECK(net.take().empty());
}

TEST_CASE("udp: an empty datagram is delivered") {
  Net net;
  std::vector<Received> got;
  recorder(net, 7000, got);
  net.inject_ip(udp_ip(), udp_datagram(1, 7000, {}));
  REQUIRE(got.size() == 1);
  CHECK(got[0].data.empty());
}

TEST_CASE("udp: RFC 1122 4.1.3.4 - a bad checksum is dropped, a zero checksum accepted") {
  Net net;
  std::vector<Received> got;
  recorder(net, 7000, got);
  Bytes bad = udp_datagram(1, 7000, pattern(33));
  bad[8] ^= 0x01;
  net.inject_ip(udp_ip(), bad);
  CHECK(got.empty());
  CHECK(net.counter("udp.rx.drop.bad_checksum") == 1);
  net.inject_ip(udp_ip(), udp_datagram(1, 7000, pattern(33), peer_ip, our_ip, false));
  REQUIRE(got.size() == 1);
  CHECK(got[0].data == pattern(33));
  CHECK(net.counter("udp.rx.no_checksum") == 1);
  // A checksum computed against another destination is wrong for us.
  net.inject_ip(udp_ip(), udp_datagram(1, 7000, pattern(33), peer_ip, Ipv4Address{0x0a000063}));
  CHECK(got.size() == 1);
  CHECK(net.counter("udp.rx.drop.bad_checksum") == 2);
}

TEST_CASE("udp: lengths are checked: short header, length below 8 or beyond the datagram") {
  Net net;
  std::vector<Received> got;
  recorder(net, 7000, got);
  net.inject_ip(udp_ip(), Bytes{0x00, 0x01, 0x1b, 0x58});
  CHECK(net.counter("udp.rx.drop.truncated") == 1);
  Bytes small = udp_datagram(1, 7000, pattern(8), peer_ip, our_ip, false);
  small[5] = 7;  // length 7
  net.inject_ip(udp_ip(), small);
  Bytes large = udp_datagram(1, 7000, pattern(8), peer_ip, our_ip, false);
  large[5] = 17;  // one more than there is
  net.inject_ip(udp_ip(), large);
  CHECK(net.counter("udp.rx.drop.bad_length") == 2);
  CHECK(got.empty());
  // Bytes beyond the UDP length (but inside the IP datagram) are not data.
  Bytes extra = udp_datagram(1, 7000, pattern(8));
  extra.push_back(0xee);
  extra.push_back(0xee);
  net.inject_ip(udp_ip(), extra);
  REQUIRE(got.size() == 1);
  CHECK(got[0].data == pattern(8));
}

TEST_CASE("udp: RFC 1122 4.1.3.1 - port unreachable for a closed port, quoting the datagram") {
  Net net;
  net.learn();
  Bytes d = udp_datagram(40000, 9999, pattern(40));
  IpFields f = udp_ip();
  f.id = 0x4242;
  net.inject_ip(f, d);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].ip_proto() == 1);
  CHECK(out[0].ip_dst() == peer_ip);
  auto icmp = out[0].ip_payload();
  CHECK(icmp[0] == 3);
  CHECK(icmp[1] == 3);
  // The quote: the offending IP header and at least 8 bytes of its data.
  Bytes original = ip_datagram(f, d);
  REQUIRE(icmp.size() >= 8 + 28);
  CHECK(std::equal(original.begin(), original.begin() + 28, icmp.begin() + 8));
  CHECK(net.counter("udp.rx.drop.no_port") == 1);
}

TEST_CASE("udp: no port unreachable about a broadcast datagram") {
  Net net;
  net.learn();
  net.inject(eth(MacAddress::broadcast(), peer_mac, 0x0800,
                 ip_datagram(udp_ip(subnet_broadcast),
                             udp_datagram(1, 9999, pattern(8), peer_ip, subnet_broadcast))));
  CHECK(net.take().empty());
  CHECK(net.counter("udp.rx.drop.no_port") == 1);
}

TEST_CASE("udp: a broadcast reaches a bound socket, marked as broadcast") {
  Net net;
  std::vector<Received> got;
  recorder(net, 7000, got);
  net.inject(eth(
      MacAddress::broadcast(), peer_mac, 0x0800,
      ip_datagram(udp_ip(Ipv4Address::limited_broadcast()),
                  udp_datagram(1, 7000, pattern(8), peer_ip, Ipv4Address::limited_broadcast()))));
  REQUIRE(got.size() == 1);
  CHECK(got[0].broadcast);
  CHECK(got[0].dst == Ipv4Address::limited_broadcast());
}

TEST_CASE("udp: a fragmented datagram is delivered whole") {
  Net net;
  std::vector<Received> got;
  recorder(net, 7000, got);
  Bytes data = pattern(4000, 3);
  for (auto& frame : fragments(udp_ip(), udp_datagram(5, 7000, data), 1480)) net.inject(frame);
  REQUIRE(got.size() == 1);
  CHECK(got[0].data == data);
}

TEST_CASE("udp: send_to builds a correct datagram from the socket's port") {
  Net net;
  net.learn();
  UdpSocket* s = net.stack.udp_bind(5353);
  REQUIRE(s);
  CHECK(s->send_to(peer_ip, 9, pattern(21), net.now) == SendResult::sent);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].dst == peer_mac);
  CHECK(out[0].ip_proto() == 17);
  CHECK(out[0].ip_src() == our_ip);
  auto u = out[0].ip_payload();
  REQUIRE(u.size() == 8 + 21);
  CHECK(get16(u, 0) == 5353);
  CHECK(get16(u, 2) == 9);
  CHECK(get16(u, 4) == 29);
  CHECK(get16(u, 6) != 0);  // always generated
  CHECK(udp_checksum_ok(u, our_ip, peer_ip));
  CHECK(Bytes(u.begin() + 8, u.end()) == pattern(21));
  CHECK(s->stats().tx_datagrams == 1);
}

TEST_CASE("udp: a datagram over the MTU leaves in fragments that make the datagram") {
  Net net;
  net.learn();
  UdpSocket* s = net.stack.udp_bind(5353);
  Bytes data = pattern(3000, 9);
  CHECK(s->send_to(peer_ip, 9, data, net.now) == SendResult::sent);
  auto out = net.take();
  REQUIRE(out.size() == 3);
  auto whole = reassemble(out);
  REQUIRE(whole);
  CHECK(whole->size() == 3008);
  CHECK(udp_checksum_ok(*whole, our_ip, peer_ip));
  CHECK(Bytes(whole->begin() + 8, whole->end()) == data);
}

TEST_CASE("udp: send results - queued while ARP asks, then the error callback when it fails") {
  Net net;
  UdpSocket* s = net.stack.udp_bind(5353);
  std::vector<std::pair<Ipv4Address, SendResult>> errors;
  std::uint16_t error_port = 0;
  s->on_error([&](Ipv4Address dst, std::uint16_t port, SendResult why) {
    errors.push_back({dst, why});
    error_port = port;
  });
  CHECK(s->send_to(peer_ip, 9, pattern(10), net.now) == SendResult::queued);
  CHECK(errors.empty());
  net.advance(3500);  // three requests, a second apart, then give up
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].first == peer_ip);
  CHECK(errors[0].second == SendResult::no_route);
  CHECK(error_port == 9);
  CHECK(s->stats().tx_failed == 1);
  CHECK(net.counter("udp.tx.dropped_later") == 1);
}

TEST_CASE("udp: send results - queue overflow reaches the error callback, even when it resends") {
  Net net;
  UdpSocket* s = net.stack.udp_bind(5353);
  int errors = 0;
  s->on_error([&](Ipv4Address, std::uint16_t, SendResult why) {
    CHECK(why == SendResult::no_buffer);
    // Sending from the callback is safe (the ARP layer is consistent).
    if (++errors == 1) CHECK(s->send_to(peer_ip, 9, pattern(1), net.now) == SendResult::queued);
  });
  for (std::size_t i = 0; i < Arp::queue_per_entry + 1; ++i)
    CHECK(s->send_to(peer_ip, 9, pattern(10), net.now) == SendResult::queued);
  CHECK(errors == 2);  // the oldest, then the one the callback pushed out
}

TEST_CASE("udp: send results - no route, too big, bad address, device full, closed") {
  Net lone("ip=10.0.0.2/24");
  UdpSocket* s = lone.stack.udp_bind(1);
  CHECK(s->send_to(Ipv4Address{0x08080808}, 53, pattern(4), lone.now) == SendResult::no_route);
  CHECK(s->send_to(peer_ip, 53, Bytes(udp::max_payload + 1), lone.now) == SendResult::too_big);
  CHECK(s->send_to(Ipv4Address::any(), 53, pattern(4), lone.now) == SendResult::bad_address);
  CHECK(s->send_to(peer_ip, 0, pattern(4), lone.now) == SendResult::bad_address);
  lone.learn();
  lone.nic.full = true;
  CHECK(s->send_to(peer_ip, 53, pattern(4), lone.now) == SendResult::device_full);
  lone.nic.full = false;
  CHECK(s->send_to(peer_ip, 53, Bytes(udp::max_payload), lone.now) == SendResult::sent);
  s->close();
  CHECK(s->send_to(peer_ip, 53, pattern(4), lone.now) == SendResult::closed);
  CHECK(s->stats().tx_failed == 6);
}

TEST_CASE("udp: binding - taken ports, ephemeral ports, closing and rebinding") {
  Net net;
  UdpSocket* a = net.stack.udp_bind(7000);
  REQUIRE(a);
  CHECK_FALSE(net.stack.udp_bind(7000));
  CHECK(net.counter("udp.bind.failed") == 1);
  UdpSocket* e1 = net.stack.udp_bind(0);
  UdpSocket* e2 = net.stack.udp_bind(0);
  REQUIRE(e1);
  REQUIRE(e2);
  CHECK(e1->port() >= udp::ephemeral_first);
  CHECK(e2->port() != e1->port());
  a->close();
  CHECK_FALSE(a->is_open());
  // Closed: a datagram for it is answered with port unreachable.
  net.learn();
  net.inject_ip(udp_ip(), udp_datagram(1, 7000, pattern(4)));
  CHECK(net.take().size() == 1);
  std::vector<Received> got;
  recorder(net, 7000, got);
  net.inject_ip(udp_ip(), udp_datagram(1, 7000, pattern(4)));
  CHECK(got.size() == 1);
  CHECK(net.take().empty());
}

TEST_CASE("udp: as many sockets as the table holds, then no more") {
  Net net;
  std::vector<UdpSocket*> all;
  for (std::size_t i = 0; i < Udp::max_sockets; ++i) {
    UdpSocket* s = net.stack.udp_bind(static_cast<std::uint16_t>(10000 + i));
    REQUIRE(s);
    all.push_back(s);
  }
  CHECK_FALSE(net.stack.udp_bind(0));
  CHECK(net.stack.udp().bound() == Udp::max_sockets);
  all[5]->close();
  CHECK(net.stack.udp_bind(0));
}

}  // namespace rz::net::test

namespace rz::net::test {

TEST_CASE("udp: ephemeral ports are picked at random (RFC 6056 3.3.1)") {
  Net net;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 8; ++i) {
    UdpSocket* s = net.stack.udp_bind(0);
    REQUIRE(s);
    CHECK(s->port() >= udp::ephemeral_first);
    ports.push_back(s->port());
  }
  int consecutive = 0;
  for (std::size_t i = 1; i < ports.size(); ++i) consecutive += ports[i] == ports[i - 1] + 1;
  CHECK(consecutive < 7);
}

}  // namespace rz::net::test

namespace rz::net::test {

TEST_CASE("udp: RFC 1122 4.1.3.3 - ICMP errors about a datagram reach its socket") {
  Net net;
  net.learn();
  UdpSocket* s = net.stack.udp_bind(5353);
  std::vector<std::pair<std::uint16_t, SendResult>> errors;
  s->on_error([&](Ipv4Address dst, std::uint16_t port, SendResult why) {
    CHECK(dst == peer_ip);
    errors.push_back({port, why});
  });
  REQUIRE(s->send_to(peer_ip, 9, pattern(30), net.now) == SendResult::sent);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  // The offending datagram as it left: IP header and (at least) 8 bytes.
  Bytes sent(out[0].raw.begin() + 14, out[0].raw.end());
  Bytes quote(sent.begin(), sent.begin() + 28);
  IpFields f;
  net.inject_ip(f, icmp_msg(3, 3, 0, quote));   // port unreachable
  net.inject_ip(f, icmp_msg(11, 0, 0, sent));   // TTL exceeded, the whole datagram
  net.inject_ip(f, icmp_msg(3, 1, 0, quote));   // host unreachable
  net.inject_ip(f, icmp_msg(12, 0, 0, quote));  // parameter problem
  REQUIRE(errors.size() == 4);
  CHECK(errors[0] == std::pair{std::uint16_t(9), SendResult::port_unreachable});
  CHECK(errors[1].second == SendResult::time_exceeded);
  CHECK(errors[2].second == SendResult::unreachable);
  CHECK(errors[3].second == SendResult::parameter_problem);
  CHECK(net.counter("udp.rx.icmp_errors") == 4);
  CHECK(net.take().empty());  // never an error about an error
}

TEST_CASE("udp: ICMP errors that cannot be about our datagrams are dropped") {
  Net net;
  UdpSocket* s = net.stack.udp_bind(5353);
  int errors = 0;
  s->on_error([&](Ipv4Address, std::uint16_t, SendResult) { ++errors; });
  IpFields theirs = udp_ip();
  theirs.src = Ipv4Address{0x0a000007};  // not our address
  theirs.dst = peer_ip;
  Bytes forged = ip_datagram(theirs, udp_datagram(5353, 9, pattern(4)));
  net.inject_ip(IpFields{}, icmp_msg(3, 3, 0, forged));
  Bytes ours = ip_datagram(
      [] {
        IpFields g;
        g.proto = 17;
        g.src = our_ip;
        g.dst = peer_ip;
        return g;
      }(),
      udp_datagram(5353, 9, pattern(4), our_ip, peer_ip));
  net.inject_ip(IpFields{}, icmp_msg(3, 3, 0, Bytes(ours.begin(), ours.begin() + 24)));  // short
  CHECK(errors == 0);
  CHECK(net.counter("icmp.rx.drop.bad_quote") == 2);
  net.inject_ip(IpFields{}, icmp_msg(3, 3, 0, ours));
  CHECK(errors == 1);
}

}  // namespace rz::net::test
