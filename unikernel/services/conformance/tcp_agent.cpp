// The agent's TCP commands (see tcp_agent.hpp).
#include "services/conformance/tcp_agent.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <ringzero/tcp.hpp>
#include <vector>

#include "net/stack_core.hpp"
#include "services/conformance/agent_util.hpp"
#include "services/conformance/sha256.hpp"

namespace rz::agent {
namespace {

using rz::net::TcpConnection;

enum class Mode { hold, echo, discard, chargen };

std::optional<Mode> mode_of(const json::Object& r, std::string& why) {
  auto m = r.string("mode").value_or("hold");
  if (m == "hold") return Mode::hold;
  if (m == "echo") return Mode::echo;
  if (m == "discard") return Mode::discard;
  if (m == "chargen") return Mode::chargen;
  why = "bad request: \"mode\" must be hold, echo, discard or chargen";
  return std::nullopt;
}

struct Conn {
  std::int64_t id = 0;
  TcpConnection::Ptr c;
  Mode mode = Mode::hold;
  std::uint64_t chargen_size = 0;  // 0: endless
  std::int64_t seed = 0;
  std::uint64_t chargen_sent = 0;
  std::deque<std::uint8_t> pending;  // tcp_send data the stack has not taken yet
  bool shutdown_after_pending = false;
  Sha256 rx_hash, tx_hash;
  std::uint64_t rx_bytes = 0, tx_bytes = 0;
  bool closed = false;  // the application side closed (tcp_close, or the mode's end)
};

struct Listener {
  Mode mode = Mode::hold;
  std::uint64_t size = 0;
  std::int64_t seed = 0;
  bool nodelay = false;
  std::vector<std::int64_t> accepted;  // since the last tcp_accept
};

std::map<std::int64_t, std::unique_ptr<Conn>> conns;
std::map<std::uint16_t, Listener> listeners;
std::int64_t next_id = 1;
constexpr std::size_t max_kept_closed = 256;  // ended connections kept for tcp_state

void pump(Conn& a);

void sent(Conn& a, std::span<const std::uint8_t> bytes) {
  a.tx_hash.update(bytes);
  a.tx_bytes += bytes.size();
}

void received(Conn& a, std::span<const std::uint8_t> bytes) {
  a.rx_hash.update(bytes);
  a.rx_bytes += bytes.size();
}

// Moves what can go from the agent's queue (and the chargen source) into
// the stack, reads per mode, closes when the mode is done.
void pump(Conn& a) {
  auto& c = *a.c;
  std::uint8_t chunk[4096];
  // Queued tcp_send data first.
  while (!a.pending.empty() && c.write_space() > 0) {
    std::size_t n = std::min({a.pending.size(), sizeof chunk, c.write_space()});
    std::copy_n(a.pending.begin(), n, chunk);
    std::size_t took = c.write({chunk, n});
    sent(a, {chunk, took});
    a.pending.erase(a.pending.begin(), a.pending.begin() + static_cast<std::ptrdiff_t>(took));
    if (took < n) break;
  }
  if (a.pending.empty() && a.shutdown_after_pending) {
    a.shutdown_after_pending = false;
    if (a.closed)
      c.close();
    else
      c.shutdown();
  }
  switch (a.mode) {
    case Mode::hold:
      break;
    case Mode::echo:
      while (c.readable() > 0 && c.write_space() > 0) {
        std::size_t n = c.read({chunk, std::min(sizeof chunk, c.write_space())});
        received(a, {chunk, n});
        std::size_t took = c.write({chunk, n});
        sent(a, {chunk, took});
      }
      if (c.eof() && !a.closed) {
        a.closed = true;
        c.close();
      }
      break;
    case Mode::discard:
      while (c.readable() > 0) {
        std::size_t n = c.read(chunk);
        received(a, {chunk, n});
      }
      if (c.eof() && !a.closed) {
        a.closed = true;
        c.close();
      }
      break;
    case Mode::chargen:
      while (c.readable() > 0) {  // whatever comes is read and counted
        std::size_t n = c.read(chunk);
        received(a, {chunk, n});
      }
      while (!a.closed && c.write_space() > 0 &&
             (a.chargen_size == 0 || a.chargen_sent < a.chargen_size)) {
        std::size_t n = std::min(sizeof chunk, c.write_space());
        if (a.chargen_size) n = std::min<std::uint64_t>(n, a.chargen_size - a.chargen_sent);
        for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern_byte(a.chargen_sent + i, a.seed);
        std::size_t took = c.write({chunk, n});
        sent(a, {chunk, took});
        a.chargen_sent += took;
        if (took < n) break;
      }
      if (!a.closed && ((a.chargen_size && a.chargen_sent >= a.chargen_size) || c.eof())) {
        a.closed = true;
        c.close();
      }
      break;
  }
}

void forget_old() {
  std::size_t ended = 0;
  for (auto& [id, a] : conns)
    if (a->c->state() == rz::net::TcpState::closed) ++ended;
  for (auto it = conns.begin(); it != conns.end() && ended > max_kept_closed;) {
    if (it->second->c->state() == rz::net::TcpState::closed) {
      it = conns.erase(it);
      --ended;
    } else {
      ++it;
    }
  }
}

Conn& adopt(TcpConnection::Ptr c, Mode mode, std::uint64_t size, std::int64_t seed) {
  forget_old();
  auto a = std::make_unique<Conn>();
  a->id = next_id++;
  a->c = std::move(c);
  a->mode = mode;
  a->chargen_size = size;
  a->seed = seed;
  std::int64_t id = a->id;
  auto again = [id] {
    auto it = conns.find(id);
    if (it != conns.end()) pump(*it->second);
  };
  a->c->on_connected(again);
  a->c->on_readable(again);
  a->c->on_writable(again);
  Conn& ref = *a;
  conns[id] = std::move(a);
  return ref;
}

Conn* conn_of(const json::Object& r, std::string& why) {
  auto id = r.integer("conn");
  auto it = id ? conns.find(*id) : conns.end();
  if (it == conns.end()) {
    why = "no connection " + (id ? std::to_string(*id) : std::string("(\"conn\" missing)"));
    return nullptr;
  }
  return it->second.get();
}

void state_of(const Conn& a, json::Writer& w) {
  const auto& c = *a.c;
  const auto& t = c.tuple();
  w.key("conn").value(a.id).key("state").value(rz::net::to_string(c.state()));
  w.key("local_ip").value(t.local.to_string()).key("local_port").value(unsigned(t.local_port));
  w.key("remote_ip").value(t.remote.to_string()).key("remote_port").value(unsigned(t.remote_port));
  w.key("error");
  if (c.error() == rz::net::TcpError::none)
    w.null();
  else
    w.value(rz::net::to_string(c.error()));
  w.key("rx_bytes").value(a.rx_bytes).key("tx_bytes").value(a.tx_bytes);
  w.key("rx_sha256").value(a.rx_hash.hex()).key("tx_sha256").value(a.tx_hash.hex());
  w.key("unread").value(std::uint64_t(c.readable()));
  w.key("unsent").value(std::uint64_t(a.pending.size() + c.unacked()));
  w.key("eof").value(c.eof());
  auto s = c.stats();
  w.key("stats").begin_object();
  w.key("mss").value(s.mss).key("cwnd").value(s.cwnd).key("ssthresh").value(s.ssthresh);
  w.key("srtt_ms").value(s.srtt_ms).key("rttvar_ms").value(s.rttvar_ms);
  w.key("rto_ms").value(s.rto_ms).key("retransmits").value(s.retransmits);
  w.key("snd_wnd").value(s.snd_wnd).key("rcv_wnd").value(s.rcv_wnd);
  w.key("timeouts").value(s.timeouts).key("fast_retransmits").value(s.fast_retransmits);
  w.key("dupacks").value(s.dupacks).key("challenge_acks").value(s.challenge_acks);
  w.key("ooo_segments").value(s.ooo_segments).key("urgent").value(s.urgent);
  w.key("segments_in").value(s.segments_in).key("segments_out").value(s.segments_out);
  w.key("timestamps").value(s.timestamps).key("window_scaling").value(s.window_scaling);
  w.key("snd_wscale").value(unsigned(s.snd_wscale)).key("rcv_wscale").value(unsigned(s.rcv_wscale));
  w.end_object();
}

bool listen(const json::Object& r, json::Writer& w, std::string& why) {
  auto port = port_of(r, "port", why);
  if (!port) return false;
  auto mode = mode_of(r, why);
  if (!mode) return false;
  auto& tcp = rz::net::stack_core()->tcp();
  if (*port == 0) {
    for (std::uint16_t p = 49152; p != 0 && *port == 0; ++p)
      if (!tcp.listening(p)) *port = p;
  }
  Listener l;
  l.mode = *mode;
  l.size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.integer("size").value_or(0)));
  l.seed = r.integer("seed").value_or(0);
  l.nodelay = r.boolean("nodelay").value_or(false);
  auto backlog = r.integer("backlog").value_or(0);
  std::uint16_t bound = *port;
  bool ok = tcp.listen(
      bound,
      [bound](TcpConnection::Ptr c) {
        auto it = listeners.find(bound);
        if (it == listeners.end()) {
          c->abort();
          return;
        }
        auto& l = it->second;
        c->set_nodelay(l.nodelay);
        Conn& a = adopt(std::move(c), l.mode, l.size, l.seed);
        if (l.accepted.size() < 4096) l.accepted.push_back(a.id);
        pump(a);
      },
      static_cast<std::size_t>(std::clamp<std::int64_t>(backlog, 0, 65535)));
  if (!ok) {
    why = "port " + std::to_string(bound) + " is already listening";
    return false;
  }
  listeners[bound] = std::move(l);
  w.key("port").value(unsigned(bound));
  return true;
}

bool connect(const json::Object& r, json::Writer& w, std::string& why) {
  auto ip_text = r.string("ip");
  auto ip = ip_text ? rz::net::Ipv4Address::parse(*ip_text) : std::nullopt;
  if (!ip) {
    why = "bad request: \"ip\" must be a.b.c.d";
    return false;
  }
  auto port = port_of(r, "port", why);
  if (!port) return false;
  std::uint16_t local = 0;
  if (r.has("local_port")) {
    auto p = port_of(r, "local_port", why);
    if (!p) return false;
    local = *p;
  }
  auto mode = mode_of(r, why);
  if (!mode) return false;
  auto c = rz::net::stack_core()->tcp().connect(*ip, *port, local);
  if (!c) {
    why = "cannot connect: no address, no free port or connection slot, or the 4-tuple is in use";
    return false;
  }
  c->set_nodelay(r.boolean("nodelay").value_or(false));
  auto size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, r.integer("size").value_or(0)));
  Conn& a = adopt(std::move(c), *mode, size, r.integer("seed").value_or(0));
  w.key("conn").value(a.id);
  return true;
}

bool send(const json::Object& r, json::Writer& w, std::string& why) {
  Conn* a = conn_of(r, why);
  if (!a) return false;
  auto data = payload_of(r, 64u << 20, why);
  if (!data) return false;
  if (r.boolean("urgent").value_or(false)) {
    // Urgent data goes at once or not at all (it must not wait behind the queue).
    if (!a->pending.empty() || a->c->write_space() < data->size()) {
      why = "urgent data needs an empty queue and room in the send buffer";
      return false;
    }
    std::size_t took = a->c->write_urgent(*data);
    sent(*a, {data->data(), took});
    w.key("queued").value(std::uint64_t(took));
    return true;
  }
  a->pending.insert(a->pending.end(), data->begin(), data->end());
  pump(*a);
  w.key("queued").value(std::uint64_t(data->size()));
  return true;
}

bool recv(const json::Object& r, json::Writer& w, std::string& why) {
  Conn* a = conn_of(r, why);
  if (!a) return false;
  auto max = std::clamp<std::int64_t>(r.integer("max").value_or(65536), 0, 1 << 20);
  std::vector<std::uint8_t> data(static_cast<std::size_t>(max));
  std::size_t n = a->c->read(data);
  data.resize(n);
  received(*a, data);
  w.key("hex").value(to_hex(data)).key("size").value(std::uint64_t(n));
  w.key("eof").value(a->c->eof());
  return true;
}

bool set(const json::Object& r, std::string& why) {
  Conn* a = conn_of(r, why);
  if (!a) return false;
  if (auto nd = r.boolean("nodelay")) a->c->set_nodelay(*nd);
  if (auto ka = r.boolean("keepalive")) {
    auto num = [&](std::string_view k, std::int64_t d) {
      return static_cast<std::uint32_t>(
          std::clamp<std::int64_t>(r.integer(k).value_or(d), 1, 86'400'000));
    };
    a->c->set_keepalive(*ka, num("keepalive_idle_ms", 7'200'000),
                        num("keepalive_interval_ms", 75'000), num("keepalive_count", 9));
  }
  if (auto ttl = r.integer("ttl")) {
    if (*ttl < 1 || *ttl > 255) {
      why = "bad request: \"ttl\" must be 1..255";
      return false;
    }
    a->c->set_ttl(static_cast<std::uint8_t>(*ttl));
  }
  if (auto tos = r.integer("tos")) {
    if (*tos < 0 || *tos > 255) {
      why = "bad request: \"tos\" must be 0..255";
      return false;
    }
    a->c->set_tos(static_cast<std::uint8_t>(*tos));
  }
  if (auto ut = r.integer("user_timeout_ms"))
    a->c->set_user_timeout(static_cast<std::uint32_t>(std::clamp<std::int64_t>(*ut, 0, 1 << 30)));
  return true;
}

}  // namespace

bool is_tcp_command(std::string_view cmd) {
  return cmd.starts_with("tcp_");
}

bool tcp_command(std::string_view cmd, const json::Object& r, json::Writer& w, std::string& why) {
  if (cmd == "tcp_listen") return listen(r, w, why);
  if (cmd == "tcp_unlisten") {
    auto port = port_of(r, "port", why);
    if (!port) return false;
    rz::net::stack_core()->tcp().unlisten(*port);
    listeners.erase(*port);
    return true;
  }
  if (cmd == "tcp_accept") {
    auto port = port_of(r, "port", why);
    if (!port) return false;
    auto it = listeners.find(*port);
    if (it == listeners.end()) {
      why = "not listening on port " + std::to_string(*port);
      return false;
    }
    w.key("conns").begin_array();
    for (auto id : it->second.accepted) {
      auto c = conns.find(id);
      if (c == conns.end()) continue;
      const auto& t = c->second->c->tuple();
      w.begin_object().key("conn").value(id).key("remote_ip").value(t.remote.to_string());
      w.key("remote_port").value(unsigned(t.remote_port)).end_object();
    }
    w.end_array();
    it->second.accepted.clear();
    return true;
  }
  if (cmd == "tcp_connect") return connect(r, w, why);
  if (cmd == "tcp_send") return send(r, w, why);
  if (cmd == "tcp_recv") return recv(r, w, why);
  if (cmd == "tcp_set") return set(r, why);
  if (cmd == "tcp_shutdown" || cmd == "tcp_close" || cmd == "tcp_abort") {
    Conn* a = conn_of(r, why);
    if (!a) return false;
    if (cmd == "tcp_abort") {
      a->pending.clear();
      a->closed = true;
      a->c->abort();
    } else if (!a->pending.empty()) {
      // The FIN goes after the agent's queue too.
      a->shutdown_after_pending = true;
      a->closed = cmd == "tcp_close";
    } else if (cmd == "tcp_close") {
      a->closed = true;
      a->c->close();
    } else {
      a->c->shutdown();
    }
    return true;
  }
  if (cmd == "tcp_state") {
    Conn* a = conn_of(r, why);
    if (!a) return false;
    state_of(*a, w);
    return true;
  }
  if (cmd == "tcp_list") {
    w.key("conns").begin_array();
    for (auto& [id, a] : conns) {
      w.begin_object();
      state_of(*a, w);
      w.end_object();
    }
    w.end_array();
    w.key("listeners").begin_array();
    for (auto& [port, l] : listeners) w.value(unsigned(port));
    w.end_array();
    return true;
  }
  why = "unknown command \"" + std::string(cmd) + "\"";
  return false;
}

}  // namespace rz::agent
