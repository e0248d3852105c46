// IPv4: header validation, addressing, reassembly and fragmentation.
#include <doctest/doctest.h>

#include "net_fixture.hpp"

using namespace rz::net;
using namespace rz::net::test;

namespace {

// The echo replies among `frames`, joined if fragmented.
std::optional<Bytes> echo_reply_payload(const std::vector<Frame>& frames) {
  auto whole = reassemble(frames);
  if (!whole || whole->size() < 8 || (*whole)[0] != 0) return std::nullopt;
  return whole;
}

}  // namespace

TEST_CASE("a header with a bad field is dropped and counted by reason") {
  Net net;
  net.learn();
  auto good = ip_datagram({}, echo_request(1, 1, pattern(8)));
  auto send = [&](Bytes b) { net.inject(eth(our_mac, peer_mac, 0x0800, b)); };

  Bytes b = good;
  b[10] ^= 0xff;  // checksum
  send(b);
  CHECK(net.counter("ipv4.rx.drop.bad_checksum") == 1);

  b = good;
  b[0] = 0x65;  // version 6 (checksum no longer matters: checked later)
  send(b);
  CHECK(net.counter("ipv4.rx.drop.bad_version") == 1);

  b = good;
  b[0] = 0x44;  // IHL 4
  send(b);
  CHECK(net.counter("ipv4.rx.drop.bad_ihl") == 1);

  auto with_total = [&](std::uint16_t total) {
    Bytes c = good;
    c[2] = static_cast<std::uint8_t>(total >> 8);
    c[3] = static_cast<std::uint8_t>(total);
    c[10] = c[11] = 0;
    auto s = sum16({c.data(), 20});
    c[10] = static_cast<std::uint8_t>(s >> 8);
    c[11] = static_cast<std::uint8_t>(s);
    return c;
  };
  send(with_total(19));
  CHECK(net.counter("ipv4.rx.drop.bad_length") == 1);
  send(with_total(static_cast<std::uint16_t>(good.size() + 1)));
  CHECK(net.counter("ipv4.rx.drop.truncated") == 1);
  send(Bytes(good.begin(), good.begin() + 19));
  CHECK(net.counter("ipv4.rx.drop.truncated") == 2);
  b = good;
  b[0] = 0x4f;  // IHL 15: beyond the bytes there are
  send(b);
  CHECK(net.counter("ipv4.rx.drop.truncated") == 3);
  CHECK(net.nic.sent.empty());

  send(good);
  CHECK(net.take().size() == 1);
}

TEST_CASE("bytes after the total length (Ethernet padding) are ignored") {
  Net net;
  net.learn();
  auto frame = eth(our_mac, peer_mac, 0x0800, ip_datagram({}, echo_request(7, 1, Bytes{1, 2})));
  frame.resize(60, 0xee);  // padded with junk
  net.inject(frame);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].ip_total() == 20 + 10);
  CHECK(out[0].ip_payload()[8] == 1);
  CHECK(out[0].ip_payload()[9] == 2);
  CHECK(sum16(out[0].ip_payload()) == 0);
}

TEST_CASE("a datagram with options is accepted (options skipped)") {
  Net net;
  net.learn();
  IpFields f;
  // NOP, NOP, an unknown option of 4 bytes (0x99, length 4, 2 data bytes).
  f.options = {0x01, 0x01, 0x99, 0x04, 0xaa, 0xbb, 0x00, 0x00};
  net.inject_ip(f, echo_request(3, 4, pattern(20)));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(out[0].ip_header() == 20);
  CHECK(get16(out[0].ip_payload(), 4) == 3);
}

TEST_CASE("only our address and the broadcasts are for us; nothing is forwarded") {
  Net net;
  net.learn();
  IpFields f;
  f.dst = Ipv4Address{0x0a000009};
  net.inject_ip(f, echo_request(1, 1, {}));
  f.dst = Ipv4Address{0x08080808};
  net.inject_ip(f, echo_request(1, 1, {}));
  f.dst = Ipv4Address{0xe0000001};
  net.inject_ip(f, echo_request(1, 1, {}), MacAddress{{0x01, 0, 0x5e, 0, 0, 1}});
  CHECK(net.counter("ipv4.rx.drop.not_for_us") == 3);
  CHECK(net.nic.sent.empty());
  f.dst = subnet_broadcast;
  net.inject_ip(f, icmp_msg(0, 0, 0, {}), MacAddress::broadcast());
  f.dst = Ipv4Address::limited_broadcast();
  net.inject_ip(f, icmp_msg(0, 0, 0, {}), MacAddress::broadcast());
  CHECK(net.counter("icmp.rx.echo_replies") == 2);
}

TEST_CASE("a source that is no host's is dropped") {
  Net net;
  for (std::uint32_t src : {0xffffffffu, 0xe0000001u, 0x7f000001u, our_ip.value, 0x0a0000ffu}) {
    IpFields f;
    f.src = Ipv4Address{src};
    net.inject_ip(f, echo_request(1, 1, {}));
  }
  CHECK(net.counter("ipv4.rx.drop.bad_source") == 5);
  CHECK(net.nic.sent.empty());
}

TEST_CASE("reassembly: in order, reversed, shuffled") {
  for (int order = 0; order < 3; ++order) {
    CAPTURE(order);
    Net net;
    net.learn();
    auto request = echo_request(0x77, 9, pattern(2972));  // 2980 bytes: 3 fragments
    auto frames = fragments({}, request, 1480);
    REQUIRE(frames.size() == 3);
    if (order == 1) std::reverse(frames.begin(), frames.end());
    if (order == 2) std::swap(frames[0], frames[1]);
    for (auto& f : frames) net.inject(f);
    auto reply = echo_reply_payload(net.take());
    REQUIRE(reply);
    CHECK(reply->size() == request.size());
    CHECK(std::equal(reply->begin() + 4, reply->end(), request.begin() + 4));
    CHECK(net.counter("ipv4.frag.reassembled") == 1);
  }
}

TEST_CASE("reassembly: tiny fragments (8 bytes each) work") {
  Net net;
  net.learn();
  auto request = echo_request(1, 2, pattern(400));
  for (auto& f : fragments({}, request, 8)) net.inject(f);
  auto reply = echo_reply_payload(net.take());
  REQUIRE(reply);
  CHECK(reply->size() == request.size());
}

TEST_CASE("reassembly: an overlap drops the whole datagram; a duplicate is ignored") {
  Net net;
  net.learn();
  auto request = echo_request(1, 2, pattern(2972));
  auto frames = fragments({}, request, 1480);
  // A duplicate of the first fragment: dropped, the datagram still completes.
  net.inject(frames[0]);
  net.inject(frames[0]);
  net.inject(frames[1]);
  net.inject(frames[2]);
  CHECK(net.counter("ipv4.frag.drop.duplicate") == 1);
  CHECK(echo_reply_payload(net.take()));

  // A fragment starting inside another: the datagram is gone.
  IpFields f;
  f.id = 0x4321;
  frames = fragments(f, request, 1480);
  net.inject(frames[0]);
  IpFields g = f;
  g.offset = 1480 - 320;
  g.mf = true;
  net.inject(eth(our_mac, peer_mac, 0x0800,
                 ip_datagram(g, Bytes(request.begin() + 1160, request.begin() + 2960))));
  net.inject(frames[1]);
  net.inject(frames[2]);
  CHECK(net.counter("ipv4.frag.drop.overlap") == 1);
  CHECK(net.take().empty());
  // What came after the overlap started a new, incomplete datagram; it
  // times out without a first fragment, so silently.
  net.advance(30'000);
  CHECK(net.counter("ipv4.frag.timeout") == 1);
  CHECK(net.take().empty());
}

TEST_CASE("reassembly: a missing fragment times out with ICMP Time Exceeded code 1") {
  Net net("ip=10.0.0.2/24 ipfrag_time=5");
  net.learn();
  auto request = echo_request(1, 2, pattern(2972));
  IpFields f;
  f.id = 0xabcd;
  auto frames = fragments(f, request, 1480);
  net.inject(frames[0]);
  net.inject(frames[2]);
  net.advance(4900);
  CHECK(net.take().empty());
  net.advance(200);
  auto out = net.take();
  REQUIRE(out.size() == 1);
  CHECK(net.counter("ipv4.frag.timeout") == 1);
  auto icmp = out[0].ip_payload();
  CHECK(icmp[0] == 11);
  CHECK(icmp[1] == 1);
  CHECK(sum16(icmp) == 0);
  CHECK(out[0].ip_src() == our_ip);
  CHECK(out[0].ip_dst() == peer_ip);
  // The quote: the first fragment's header (MF set, offset 0) and its data.
  auto quoted = icmp.subspan(8);
  REQUIRE(quoted.size() >= 28);
  CHECK(get16(quoted, 4) == 0xabcd);
  CHECK(get16(quoted, 6) == 0x2000);
  Frame first = decode(frames[0]);
  auto first_ip = first.payload();
  CHECK(std::equal(quoted.begin(), quoted.end(), first_ip.begin()));
  CHECK(out[0].raw.size() - 14 <= 576);
  // The late last fragment completes nothing.
  net.inject(frames[1]);
  net.advance(6000);
  CHECK(net.take().empty());
}

TEST_CASE("reassembly: no Time Exceeded when the first fragment never came") {
  Net net("ip=10.0.0.2/24 ipfrag_time=5");
  net.learn();
  auto frames = fragments({}, echo_request(1, 2, pattern(2972)), 1480);
  net.inject(frames[1]);
  net.inject(frames[2]);
  net.advance(6000);
  CHECK(net.counter("ipv4.frag.timeout") == 1);
  CHECK(net.take().empty());
}

TEST_CASE("reassembly: more than 65535 bytes is dropped (ping of death)") {
  Net net;
  net.learn();
  auto request = echo_request(1, 2, pattern(65600));
  for (auto& f : fragments({}, request, 1480)) net.inject(f);
  CHECK(net.counter("ipv4.frag.drop.oversized") >= 1);
  CHECK(net.counter("ipv4.frag.reassembled") == 0);
  CHECK(net.take().empty());
  // The largest legal datagram goes through.
  auto biggest = echo_request(1, 3, pattern(65535 - 20 - 8));
  for (auto& f : fragments({}, biggest, 1480)) net.inject(f);
  auto reply = echo_reply_payload(net.take());
  REQUIRE(reply);
  CHECK(reply->size() == biggest.size());
}

TEST_CASE("reassembly: sixteen interleaved datagrams all complete") {
  Net net;
  net.learn();
  std::vector<std::vector<Bytes>> per;
  for (int i = 0; i < 16; ++i) {
    IpFields f;
    f.id = static_cast<std::uint16_t>(100 + i);
    per.push_back(
        fragments(f, echo_request(static_cast<std::uint16_t>(i), 1, pattern(2500)), 1000));
  }
  for (std::size_t k = 0; k < per[0].size(); ++k)
    for (auto& frames : per) net.inject(frames[k]);
  CHECK(net.counter("ipv4.frag.reassembled") == 16);
  CHECK(net.counter("icmp.tx.echo_replies") == 16);
}

TEST_CASE("reassembly: too many datagrams at once evict the oldest") {
  Net net;
  net.learn();
  for (std::size_t i = 0; i < Reassembler::max_datagrams + 4; ++i) {
    IpFields f;
    f.id = static_cast<std::uint16_t>(i);
    net.now += 1;
    net.inject(fragments(f, echo_request(1, 1, pattern(2000)), 1000)[0]);
  }
  CHECK(net.counter("ipv4.frag.drop.limit") == 4);
  // Buffered bytes are bounded too: many big incomplete datagrams.
  for (std::size_t i = 0; i < 40; ++i) {
    IpFields f;
    f.id = static_cast<std::uint16_t>(1000 + i);
    net.now += 1;
    auto frames = fragments(f, echo_request(1, 1, pattern(20000)), 1480);
    for (std::size_t k = 0; k + 1 < frames.size(); ++k) net.inject(frames[k]);
  }
  CHECK(net.counter("ipv4.frag.drop.limit") > 4);
  // A fresh datagram still completes.
  IpFields f;
  f.id = 7;
  for (auto& frame : fragments(f, echo_request(1, 1, pattern(3000)), 1480)) net.inject(frame);
  CHECK(echo_reply_payload(net.take()));
}

TEST_CASE("reassembly: a conflicting last fragment drops the datagram") {
  Net net;
  net.learn();
  auto request = echo_request(1, 2, pattern(2972));
  auto frames = fragments({}, request, 1480);
  net.inject(frames[2]);
  IpFields g;
  g.offset = 1480;
  net.inject(eth(our_mac, peer_mac, 0x0800, ip_datagram(g, Bytes(100))));  // another end
  CHECK(net.counter("ipv4.frag.drop.inconsistent") == 1);
}

TEST_CASE("output: datagrams over the MTU leave in fragments") {
  Net net;
  net.learn();
  auto payload = pattern(4000);
  REQUIRE(ok(net.stack.send_ipv4({}, peer_ip, 253, payload, net.now)));
  auto out = net.take();
  REQUIRE(out.size() == 3);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto& f = out[i];
    CHECK(f.raw.size() - 14 <= 1500);
    CHECK(f.ip_header_ok());
    CHECK(f.ip_id() == out[0].ip_id());
    CHECK_FALSE(f.ip_df());
    CHECK(f.ip_ttl() == 64);
    CHECK(f.ip_mf() == (i + 1 < out.size()));
    if (f.ip_mf()) CHECK(f.ip_payload().size() % 8 == 0);
  }
  CHECK(out[1].ip_offset() == 1480);
  CHECK(reassemble(out) == payload);
  CHECK(net.counter("ipv4.tx.fragments") == 3);
  // A smaller MTU makes smaller fragments.
  net.nic.mtu_ = 576;
  REQUIRE(ok(net.stack.send_ipv4({}, peer_ip, 253, payload, net.now)));
  out = net.take();
  CHECK(out.size() == 8);  // 552 bytes each
  CHECK(reassemble(out) == payload);
}

TEST_CASE("output: consecutive datagrams get different ids") {
  Net net;
  net.learn();
  net.stack.send_ipv4({}, peer_ip, 253, pattern(4), net.now);
  net.stack.send_ipv4({}, peer_ip, 253, pattern(4), net.now);
  auto out = net.take();
  REQUIRE(out.size() == 2);
  CHECK(out[0].ip_id() != out[1].ip_id());
}

TEST_CASE("protocol handlers: registered handlers get their datagrams") {
  Net net;
  net.learn();
  int calls = 0;
  net.stack.register_protocol(17, [&](const Ipv4Input& in, PacketPtr p, std::uint64_t) {
    ++calls;
    CHECK(in.header.src == peer_ip);
    CHECK(in.payload.size() == 12);
    REQUIRE(p);
    CHECK(p->size() == 12);  // the window is the payload
  });
  IpFields f;
  f.proto = 17;
  net.inject_ip(f, pattern(12));
  CHECK(calls == 1);
  CHECK(net.nic.sent.empty());  // no protocol unreachable
  // A reassembled datagram arrives without a packet.
  net.stack.register_protocol(17, [&](const Ipv4Input& in, PacketPtr p, std::uint64_t) {
    ++calls;
    CHECK(in.reassembled);
    CHECK_FALSE(p);
    CHECK(in.payload.size() == 3000);
    CHECK(std::equal(in.payload.begin(), in.payload.end(), pattern(3000).begin()));
  });
  for (auto& frame : fragments(f, pattern(3000), 1480)) net.inject(frame);
  CHECK(calls == 2);
}
