// TCP between two stacks on a simulated link (one-way delay 1 ms, seeded
// loss and reordering), and segment-level checks against one stack: the
// handshake, transfers that must arrive byte for byte, RSTs, closing,
// zero windows, SYN cookies, the header and option parsers.
#include <doctest/doctest.h>

#include "net/tcp_buffer.hpp"
#include "net/tcp_isn.hpp"
#include "net/tcp_segment.hpp"
#include "net_harness.hpp"

namespace rz::net::test {
namespace {

// An echo server on b's port 7 that reads as the send buffer allows.
void echo_server(Link& l) {
  REQUIRE(l.b.tcp().listen(7, [](TcpConnection::Ptr c) {
    auto pump = [c] {
      std::uint8_t buf[3000];
      while (c->readable() && c->write_space()) {
        std::size_t n = c->read({buf, std::min(sizeof buf, c->write_space())});
        c->write({buf, n});
      }
      if (c->eof()) c->close();
    };
    c->on_readable(pump);
    c->on_writable(pump);
  }));
}

}  // namespace

TEST_CASE("tcp: segment parser validates offset and checksum, options are lenient") {
  Bytes seg(20);
  seg[12] = 0x50;
  seg[13] = tcp::syn;
  std::uint16_t c = tcp::checksum(seg, ip_a, ip_b);
  seg[16] = static_cast<std::uint8_t>(c >> 8);
  seg[17] = static_cast<std::uint8_t>(c);
  tcp::Segment::Error why{};
  CHECK(tcp::Segment::parse(seg, ip_a, ip_b, why));
  seg[17] ^= 1;
  CHECK_FALSE(tcp::Segment::parse(seg, ip_a, ip_b, why));
  CHECK(why == tcp::Segment::Error::bad_checksum);
  seg[12] = 0x40;  // data offset 16 bytes
  CHECK_FALSE(tcp::Segment::parse(seg, ip_a, ip_b, why));
  CHECK(why == tcp::Segment::Error::bad_offset);
  CHECK_FALSE(tcp::Segment::parse(Bytes(19), ip_a, ip_b, why));
  CHECK(why == tcp::Segment::Error::truncated);

  // Options: unknown kinds skipped, a zero length ends the list as malformed.
  Bytes opts{2, 4, 0x05, 0xb4, 99, 3, 0, 1, 3, 3, 7, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  auto o = tcp::Options::parse(opts);
  CHECK(o.mss == 1460);
  CHECK(o.wscale == 7);
  CHECK(o.timestamps);
  CHECK(o.ts_val == 1);
  CHECK(o.ts_ecr == 2);
  CHECK_FALSE(o.malformed);
  Bytes bad{2, 4, 0x05, 0xb4, 30, 0, 3, 3, 7};
  auto b = tcp::Options::parse(bad);
  CHECK(b.malformed);
  CHECK(b.mss == 1460);
  CHECK_FALSE(b.wscale);
  Bytes overlong{3, 3, 2, 8, 20, 1};
  CHECK(tcp::Options::parse(overlong).malformed);
}

TEST_CASE("tcp: options round-trip through emit and parse") {
  tcp::Options o;
  o.mss = 1460;
  o.wscale = 2;
  o.timestamps = true;
  o.ts_val = 0x11223344;
  o.ts_ecr = 0x55667788;
  std::uint8_t buf[40];
  std::size_t n = o.emit(buf);
  CHECK(n % 4 == 0);
  auto back = tcp::Options::parse({buf, n});
  CHECK(back.mss == 1460);
  CHECK(back.wscale == 2);
  CHECK(back.ts_val == 0x11223344);
  CHECK(back.ts_ecr == 0x55667788);
}

TEST_CASE("tcp: sequence comparisons work across the wrap") {
  CHECK(tcp::seq_lt(0xfffffff0u, 0x10));
  CHECK(tcp::seq_gt(0x10, 0xfffffff0u));
  CHECK(tcp::seq_in(0, 0xffffffffu, 5));
  CHECK_FALSE(tcp::seq_in(5, 0xffffffffu, 5));
}

TEST_CASE("tcp: ISNs differ per 4-tuple, grow with the clock; cookies check out") {
  tcp::IsnGenerator g(1, 2, 3, 4);
  tcp::FourTuple t{ip_a, 80, ip_b, 40000};
  tcp::FourTuple u{ip_a, 80, ip_b, 40001};
  CHECK(g.isn(t, 0) != g.isn(u, 0));
  CHECK(g.isn(t, 4000) - g.isn(t, 0) == 1000);
  std::uint16_t mss = 0;
  std::uint32_t cookie = g.cookie(t, 777, 1460, 5000, mss);
  CHECK(mss == 1460);
  CHECK(g.check_cookie(t, 778, cookie + 1, 5000) == 1460);
  CHECK(g.check_cookie(t, 778, cookie + 1, 5000 + 64'000) == 1460);  // the previous period
  CHECK_FALSE(g.check_cookie(t, 778, cookie + 1, 5000 + 2 * 64'000));
  CHECK_FALSE(g.check_cookie(t, 779, cookie + 1, 5000));
  CHECK_FALSE(g.check_cookie(u, 778, cookie + 1, 5000));
  g.cookie(t, 777, 1000, 5000, mss);
  CHECK(mss == 536);
}

TEST_CASE("tcp: the receive ring keeps out-of-order bytes in place") {
  ByteRing r(64 * 1024);
  OutOfOrder ooo;
  Bytes d = pattern(10000);
  // 3000..6000 first, then 0..3000, then 6000..10000.
  r.write_at(3000, {d.data() + 3000, 3000});
  CHECK(ooo.add(3000, 6000));
  r.write_at(0, {d.data(), 3000});
  r.commit(3000);
  std::size_t joined = ooo.advance(3000);
  CHECK(joined == 3000);
  r.commit(joined);
  CHECK(ooo.empty());
  r.write_at(0, {d.data() + 6000, 4000});
  r.commit(4000);
  Bytes out(10000);
  CHECK(r.peek(0, out) == 10000);
  CHECK(out == d);
  r.consume(9000);
  CHECK(r.size() == 1000);
}

TEST_CASE("tcp: OutOfOrder merges touching and overlapping ranges") {
  OutOfOrder o;
  CHECK(o.add(10, 20));
  CHECK(o.add(30, 40));
  CHECK(o.ranges() == 2);
  CHECK(o.add(20, 30));
  CHECK(o.ranges() == 1);
  CHECK(o.end() == 40);
  CHECK(o.add(5, 12));
  CHECK(o.advance(5) == 35);
  CHECK(o.empty());
}

TEST_CASE("tcp: handshake, echo of 1 MB, orderly close on both sides") {
  Link l;
  echo_server(l);
  Client cl;
  cl.start(l, ip_b, 7, pattern(1 << 20, 3));
  REQUIRE(l.run_until(60'000, [&] { return cl.got.size() == cl.data.size() && cl.closed; }));
  CHECK(cl.connected);
  CHECK(cl.got == cl.data);
  CHECK(cl.error == TcpError::none);
  CHECK(cl.c->state() == TcpState::time_wait);  // we closed first... or after the peer's FIN
  CHECK(l.counter(l.a, "tcp.tx.retransmits") == 0);
  auto s = cl.c->stats();
  CHECK(s.timestamps);
  CHECK(s.window_scaling);
  CHECK(s.mss == 1448);
}

TEST_CASE("tcp: 1 MB through 3 % loss and reordering arrives whole") {
  Link l;
  l.loss = 0.03;
  l.reorder = 0.05;
  echo_server(l);
  Client cl;
  cl.start(l, ip_b, 7, pattern(1 << 20, 9));
  REQUIRE(l.run_until(600'000, [&] { return cl.got.size() == cl.data.size() && cl.closed; }));
  CHECK(cl.got == cl.data);
  CHECK(l.dropped > 0);
  CHECK(l.counter(l.a, "tcp.fast_retransmits") + l.counter(l.b, "tcp.fast_retransmits") > 0);
  CHECK(l.counter(l.a, "tcp.tx.retransmits") > 0);
}

TEST_CASE("tcp: without timestamps and window scaling too") {
  Link l("tcp_timestamps=0 tcp_window_scaling=0");
  l.loss = 0.02;
  echo_server(l);
  Client cl;
  cl.start(l, ip_b, 7, pattern(300'000, 1));
  REQUIRE(l.run_until(600'000, [&] { return cl.got.size() == cl.data.size() && cl.closed; }));
  CHECK(cl.got == cl.data);
  auto s = cl.c->stats();
  CHECK_FALSE(s.timestamps);
  CHECK_FALSE(s.window_scaling);
  CHECK(s.mss == 1460);
  CHECK(s.srtt_ms <= 50);
}

TEST_CASE("tcp: a closed port refuses the connection with RST") {
  Link l;
  Client cl;
  cl.start(l, ip_b, 4444, pattern(10));
  CHECK(l.nic_a.sent.size() == 1);
  CHECK(l.counter(l.a, "arp.tx.requests") == 1);
  CHECK(l.counter(l.a, "eth.tx.frames") == 1);
  REQUIRE(l.run_until(5000, [&] { return cl.closed; }));
  CHECK(cl.error == TcpError::refused);
  CHECK(l.counter(l.b, "tcp.tx.resets") == 1);
  CHECK(l.a.tcp().connections() == 0);
}

TEST_CASE("tcp: abort sends RST and the peer sees reset") {
  Link l;
  TcpConnection::Ptr server;
  TcpError server_error = TcpError::none;
  bool server_closed = false;
  REQUIRE(l.b.tcp().listen(80, [&](TcpConnection::Ptr c) {
    server = c;
    c->on_closed([&](TcpError e) {
      server_closed = true;
      server_error = e;
    });
  }));
  Client cl;
  cl.start(l, ip_b, 80, {}, false);
  REQUIRE(l.run_until(5000, [&] { return server != nullptr && cl.connected; }));
  cl.c->abort();
  REQUIRE(l.run_until(1000, [&] { return server_closed; }));
  CHECK(server_error == TcpError::reset);
  CHECK(cl.c->error() == TcpError::aborted);
  CHECK(server->state() == TcpState::closed);
}

TEST_CASE("tcp: a zero window is probed and the transfer resumes when the reader reads") {
  Link l("tcp_rcvbuf=8192");
  TcpConnection::Ptr server;
  REQUIRE(l.b.tcp().listen(9, [&](TcpConnection::Ptr c) { server = c; }));
  Client cl;
  cl.start(l, ip_b, 9, pattern(100'000, 4));
  REQUIRE(l.run_until(5000, [&] { return server && server->readable() == 8192; }));
  // The window is shut; nothing more arrives, but probes keep coming.
  l.run(20'000);
  CHECK(server->readable() == 8192);
  CHECK(server->stats().rcv_wnd == 0);
  CHECK(l.counter(l.a, "tcp.window_probes") >= 3);
  CHECK(cl.c->state() == TcpState::fin_wait_1);  // not given up
  Bytes got;
  std::uint8_t buf[4096];
  REQUIRE(l.run_until(300'000, [&] {
    while (server->readable()) {
      std::size_t n = server->read(buf);
      got.insert(got.end(), buf, buf + n);
    }
    return server->eof();
  }));
  CHECK(got == cl.data);
}

TEST_CASE("tcp: a full backlog answers with SYN cookies and the connection works") {
  Link l("tcp_syn_backlog=1");
  echo_server(l);
  // Two clients at once: the second SYN finds the backlog full.
  Client one, two;
  one.start(l, ip_b, 7, pattern(5000, 1));
  two.start(l, ip_b, 7, pattern(5000, 2));
  REQUIRE(l.run_until(30'000, [&] { return one.closed && two.closed; }));
  CHECK(l.now < 1000 + 500);  // no retransmission needed on either
  CHECK(l.counter(l.a, "tcp.tx.retransmits") == 0);
  CHECK(one.got == one.data);
  CHECK(two.got == two.data);
  CHECK(l.counter(l.b, "tcp.syncookies.sent") == 1);
  CHECK(l.counter(l.b, "tcp.syncookies.ok") == 1);
  CHECK_FALSE(two.c->stats().timestamps);  // a cookie keeps no options but the MSS
}

TEST_CASE("tcp: a cookie's ACK wins over a half-open connection a later SYN made") {
  // One's SYN-ACK is lost, so its half-open connection fills the backlog;
  // two's SYN gets a cookie, whose SYN-ACK is held on the wire. One's SYN
  // retransmission completes it and frees the backlog; two's SYN
  // retransmission then makes a half-open connection with its own ISS
  // (whose SYN-ACK is lost too), and only then does the cookie arrive:
  // two's ACK of it must make the connection, not draw a reset.
  Link l("tcp_syn_backlog=1");
  echo_server(l);
  Client one, two;
  one.start(l, ip_b, 7, pattern(3000, 1));
  auto tcp_at = [](const Bytes& f) { return std::size_t(14 + (f[14] & 15) * 4); };
  auto is_syn_ack_to = [&](const Bytes& f, std::uint16_t port) {
    if (f.size() < 54 || get16(f, 12) != 0x0800 || f[23] != 6) return false;
    std::size_t t = tcp_at(f);
    return get16(f, t + 2) == port && (f[t + 13] & 0x12) == 0x12;
  };
  std::vector<Bytes> held;
  int two_syn_acks = 0;
  const std::uint64_t t0 = l.now;
  l.each_ms = [&](std::uint64_t now) {
    auto& out = l.nic_b.sent;
    for (auto it = out.begin(); it != out.end();) {
      bool drop = false;
      if (now < t0 + 900 && is_syn_ack_to(*it, one.c->tuple().local_port)) drop = true;
      if (two.c && is_syn_ack_to(*it, two.c->tuple().local_port)) {
        if (++two_syn_acks == 1) held.push_back(*it);  // the cookie's
        drop = true;                                   // and the half-open one's
      }
      it = drop ? out.erase(it) : it + 1;
    }
  };
  l.run(50);
  two.start(l, ip_b, 7, pattern(3000, 2));
  REQUIRE(l.run_until(1500, [&] { return two_syn_acks >= 2; }));
  CHECK(l.counter(l.b, "tcp.syncookies.sent") == 1);
  CHECK(one.connected);
  REQUIRE(held.size() == 1);
  l.wire.push_back({held[0], false, l.now + 1});
  REQUIRE(l.run_until(30'000, [&] { return one.closed && two.closed; }));
  CHECK(two.error == TcpError::none);
  CHECK(two.got == two.data);
  CHECK(one.got == one.data);
  CHECK(l.counter(l.b, "tcp.syncookies.ok") == 1);
  CHECK(l.counter(l.b, "tcp.tx.resets") == 0);
}

TEST_CASE("tcp: SYN retransmission backs off 1, 2, 4 s and gives up after tcp_syn_retries") {
  Link l("tcp_syn_retries=3");
  l.loss = 0;
  Client cl;
  // Nobody at 10.0.0.9: ARP never answers, so the SYNs never leave;
  // instead drop everything b would answer by pointing at a silent host.
  cl.start(l, Ipv4Address{0x0a000009}, 80, {});
  REQUIRE(l.run_until(30'000, [&] { return cl.closed; }));
  CHECK(cl.error == TcpError::timeout);
  CHECK(l.counter(l.a, "tcp.timeouts") == 4);
  // 1 + 2 + 4 + 8 s.
  CHECK(l.now >= 1000 + 15'000);
  CHECK(l.now <= 1000 + 15'100);
}

TEST_CASE("tcp: simultaneous close ends in TIME-WAIT on both sides") {
  Link l;
  TcpConnection::Ptr server;
  REQUIRE(l.b.tcp().listen(80, [&](TcpConnection::Ptr c) { server = c; }));
  Client cl;
  cl.start(l, ip_b, 80, {}, false);
  REQUIRE(l.run_until(5000, [&] { return server && cl.connected; }));
  cl.c->close();
  server->close();
  l.run(100);
  CHECK(cl.c->state() == TcpState::time_wait);
  CHECK(server->state() == TcpState::time_wait);
  l.run(60'000);
  CHECK(l.a.tcp().connections() == 0);
  CHECK(l.b.tcp().connections() == 0);
}

TEST_CASE("tcp: a table full of TIME-WAIT makes room for a new connection") {
  // b closes first each time, so b keeps TIME-WAIT; its table holds two.
  Link l("tcp_max_connections=2");
  REQUIRE(l.b.tcp().listen(80, [](TcpConnection::Ptr c) { c->close(); }));
  for (int i = 0; i < 3; ++i) {
    Client cl;
    cl.start(l, ip_b, 80, {});
    REQUIRE(l.run_until(5000, [&] { return cl.closed; }));
    CHECK(cl.connected);
    CHECK(cl.error == TcpError::none);
    cl.c.reset();
  }
  CHECK(l.b.tcp().connections() == 2);
  CHECK(l.counter(l.b, "tcp.time_wait_evicted") == 1);
}

TEST_CASE("tcp: a closed connection waits 2 MSL at most in FIN-WAIT-2") {
  Link l("tcp_msl=1");
  TcpConnection::Ptr server;
  REQUIRE(l.b.tcp().listen(80, [&](TcpConnection::Ptr c) { server = c; }));
  Client cl;
  cl.start(l, ip_b, 80, {}, false);  // never closes its side
  REQUIRE(l.run_until(5000, [&] { return server && cl.connected; }));
  server->close();
  l.run(100);
  CHECK(server->state() == TcpState::fin_wait_2);
  l.run(2500);
  CHECK(server->state() == TcpState::closed);
  CHECK(l.counter(l.b, "tcp.fin_wait_2_timeouts") == 1);
  CHECK(cl.closed);  // the RST told the client
  CHECK(l.b.tcp().connections() == 0);
}

TEST_CASE("tcp: a half-closed connection (shutdown) stays in FIN-WAIT-2 for the peer") {
  Link l("tcp_msl=1");
  TcpConnection::Ptr server;
  REQUIRE(l.b.tcp().listen(80, [&](TcpConnection::Ptr c) { server = c; }));
  Client cl;
  cl.start(l, ip_b, 80, {}, false);
  REQUIRE(l.run_until(5000, [&] { return server && cl.connected; }));
  server->shutdown();
  l.run(5000);
  CHECK(server->state() == TcpState::fin_wait_2);
  CHECK(l.counter(l.b, "tcp.fin_wait_2_timeouts") == 0);
}

}  // namespace rz::net::test
