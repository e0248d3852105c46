// Two stacks on a simulated link (one-way delay 1 ms, seeded loss and
// reordering) with a clock the test moves, and a TCP client on stack a.
// Shared by the TCP tests and the HTTP server tests.
#pragma once
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <string_view>

#include "net_fixture.hpp"

namespace rz::net::test {

inline constexpr MacAddress mac_a{{0x52, 0x54, 0x00, 0x00, 0x00, 0x0a}};
inline constexpr MacAddress mac_b{{0x52, 0x54, 0x00, 0x00, 0x00, 0x0b}};
inline constexpr Ipv4Address ip_a{0x0a000002};
inline constexpr Ipv4Address ip_b{0x0a000005};

inline Config config_for(std::string_view cmdline, MacAddress mac, std::uint64_t seed) {
  Config c = Config::from_cmdline(cmdline, mac);
  c.seed = seed;
  return c;
}

// Two stacks and the wire between them.
struct Link {
  FakeNic nic_a{2048}, nic_b{2048};
  StackCore a, b;
  std::uint64_t now = 1000;
  double loss = 0;     // probability a data-carrying frame is lost
  double reorder = 0;  // probability a frame is held back one step
  std::mt19937_64 rng{42};
  struct InFlight {
    Bytes frame;
    bool to_b;
    std::uint64_t at;
  };
  std::deque<InFlight> wire;
  std::uint64_t dropped = 0;
  // Runs once a simulated millisecond, after the stacks' timers (for
  // timers of the layers above, e.g. an HTTP server's tick()).
  std::function<void(std::uint64_t now)> each_ms;

  explicit Link(std::string_view extra = "")
      : a(nic_a, config_for("ip=10.0.0.2/24 " + std::string(extra), mac_a, 1)),
        b(nic_b, config_for("ip=10.0.0.5/24 " + std::string(extra), mac_b, 2)) {
    nic_a.mac_ = mac_a;
    nic_b.mac_ = mac_b;
    // The application's calls (connect, write) happen at the link's time.
    a.tcp().set_clock([this] { return now; });
    b.tcp().set_clock([this] { return now; });
  }

  void collect() {
    std::uniform_real_distribution<double> u(0, 1);
    for (int side = 0; side < 2; ++side) {
      auto& sent = side == 0 ? nic_a.sent : nic_b.sent;
      for (auto& f : sent) {
        bool carries_data = f.size() > 14 + 20 + 20 + 12 + 1;
        if (loss > 0 && carries_data && u(rng) < loss) {
          ++dropped;
          continue;
        }
        std::uint64_t at = now + 1 + (reorder > 0 && u(rng) < reorder ? 2 : 0);
        wire.push_back({std::move(f), side == 0, at});
      }
      sent.clear();
    }
  }
  // TCP_TRACE=1: every TCP segment delivered, on stderr.
  void trace(const InFlight& f) {
    static bool on = std::getenv("TCP_TRACE") != nullptr;
    if (!on || f.frame.size() < 54 || get16(f.frame, 12) != 0x0800 || f.frame[23] != 6) return;
    std::size_t t = 14 + (f.frame[14] & 15) * 4;
    std::size_t len = get16(f.frame, 16) - (t - 14) - (f.frame[t + 12] >> 4) * 4;
    std::fprintf(stderr, "%llu %s %u>%u seq=%u ack=%u fl=%02x win=%u len=%zu\n",
                 (unsigned long long)now, f.to_b ? "a->b" : "b->a", get16(f.frame, t),
                 get16(f.frame, t + 2), get32(f.frame, t + 4), get32(f.frame, t + 8),
                 f.frame[t + 13], get16(f.frame, t + 14), len);
  }
  void deliver() {
    for (auto it = wire.begin(); it != wire.end();) {
      if (it->at > now) {
        ++it;
        continue;
      }
      trace(*it);
      auto& nic = it->to_b ? nic_b : nic_a;
      PacketPtr p = nic.pool().alloc();
      REQUIRE(p);
      REQUIRE(p->resize(it->frame.size()));
      std::copy(it->frame.begin(), it->frame.end(), p->data());
      (it->to_b ? b : a).input(std::move(p), now);
      it = wire.erase(it);
    }
  }
  // Runs the link in 1 ms steps for `ms`, or until `done` holds.
  template <typename F>
  bool run_until(std::uint64_t ms, F done) {
    for (std::uint64_t end = now + ms; now < end; ++now) {
      collect();
      deliver();
      if (a.next_due(now) <= now) a.tick(now);
      if (b.next_due(now) <= now) b.tick(now);
      if (each_ms) each_ms(now);
      collect();
      if (done()) return true;
    }
    return done();
  }
  void run(std::uint64_t ms) {
    run_until(ms, [] { return false; });
  }
  std::uint64_t counter(StackCore& s, std::string_view name) {
    std::uint64_t value = ~0ull;
    s.for_each_counter([&](std::string_view n, std::uint64_t v) {
      if (n == name) value = v;
    });
    REQUIRE(value != ~0ull);
    return value;
  }
};

// A client on a that sends `data` and collects what comes back (while
// `reading`; after setting it again, call pump()).
struct Client {
  TcpConnection::Ptr c;
  Bytes data, got;
  std::size_t offset = 0;
  bool connected = false, closed = false, half_close = true, reading = true;
  TcpError error = TcpError::none;

  void start(Link& l, Ipv4Address dst, std::uint16_t port, Bytes payload, bool half_close_ = true) {
    data = std::move(payload);
    half_close = half_close_;
    c = l.a.tcp().connect(dst, port);
    REQUIRE(c);
    c->on_connected([this] {
      connected = true;
      pump();
    });
    c->on_readable([this] { pump(); });
    c->on_writable([this] { pump(); });
    c->on_closed([this](TcpError e) {
      closed = true;
      error = e;
    });
  }
  // Queues more octets to send.
  void send(std::string_view more) {
    data.insert(data.end(), more.begin(), more.end());
    pump();
  }
  void pump() {
    std::uint8_t buf[4096];
    while (reading && c->readable()) {
      std::size_t n = c->read(buf);
      got.insert(got.end(), buf, buf + n);
    }
    while (offset < data.size() && c->write_space()) {
      std::size_t n = c->write({data.data() + offset, data.size() - offset});
      offset += n;
      if (!n) break;
    }
    if (half_close && offset == data.size()) c->shutdown();
  }
};

}  // namespace rz::net::test
