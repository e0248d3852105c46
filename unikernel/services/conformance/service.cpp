// The conformance agent: the harness's control channel into the unikernel.
// JSON lines on COM2, one request and one reply per line:
//   {"id": 1, "cmd": "ping"}  ->  {"id":1,"ok":true,"pong":true}
// Commands: ping, config, stats, arp; UDP sockets: udp_bind {port, echo},
// udp_send {port, ip, dst_port, hex | size+seed}, udp_recv {port},
// udp_close {port}; dhcp (the client's state and lease); resolve {name}
// (the stub resolver: the reply comes when the lookup ends); TCP: tcp_listen,
// tcp_connect, tcp_send, tcp_recv, ... (tcp_agent.hpp).
// Errors: {"id":..,"ok":false,"error":".."};
// "id" echoes an integer id and is null when there is none (or the line was
// not a valid request). Lines end in "\n" ("\r" is ignored, empty lines are
// skipped); a line over 4096 bytes is dropped up to its newline and answered
// with an error. config and arp need the NIC ("no network interface").
// Input is interrupt-driven: COM2 receive interrupts (ISA IRQ 3, through the
// IOAPIC) collect bytes that reach input() from the event loop.
#include <charconv>
#include <cstdio>
#include <deque>
#include <map>
#include <ringzero/http.hpp>
#include <ringzero/net.hpp>
#include <ringzero/os.hpp>
#include <ringzero/service.hpp>
#include <string>

#include "drivers/serial.hpp"
#include "net/dns_server.hpp"
#include "net/stack.hpp"
#include "net/stack_core.hpp"
#include "services/conformance/agent_util.hpp"
#include "services/conformance/json.hpp"
#include "services/conformance/tcp_agent.hpp"

namespace {

constexpr std::size_t max_line = 4096;
std::string line;
bool discarding = false;  // inside an over-long line, until its newline

void reply(rz::json::Writer& w) {
  std::string out = w.str();
  out += '\n';
  rz::serial::write(rz::serial::com2, out.data(), out.size());
}

void error_reply(const rz::json::Object* request, std::string_view why) {
  rz::json::Writer w;
  w.begin_object().key("id");
  auto id = request ? request->integer("id") : std::nullopt;
  if (id)
    w.value(*id);
  else
    w.null();
  w.key("ok").value(false).key("error").value(why).end_object();
  reply(w);
}

void config(rz::json::Writer& w) {
  auto* stack = rz::net::stack();
  const auto& c = stack->config();
  auto* core = rz::net::stack_core();
  w.key("mac").value(c.mac.to_string());
  w.key("ip").value(c.address.to_string());
  w.key("prefix").value(unsigned(c.prefix));
  w.key("gateway").value(c.gateway.to_string());
  w.key("mtu").value(unsigned(core ? core->nic().mtu() : 1500));
}

void stats(rz::json::Writer& w) {
  w.key("counters").begin_object();
  if (auto* stack = rz::net::stack())
    stack->for_each_counter([&](std::string_view name, std::uint64_t v) { w.key(name).value(v); });
  if (auto* dns = rz::net::dns_server())
    dns->for_each_counter([&](std::string_view name, std::uint64_t v) { w.key(name).value(v); });
  if (auto* core = rz::net::stack_core(); core && core->resolver()) {
    const auto& r = core->resolver()->stats();
    w.key("resolver.queries").value(r.queries).key("resolver.retransmits").value(r.retransmits);
    w.key("resolver.answers").value(r.answers).key("resolver.failures").value(r.failures);
    w.key("resolver.drop.wrong_source").value(r.drop_wrong_source);
    w.key("resolver.drop.malformed").value(r.drop_malformed);
    w.key("resolver.drop.unknown_id").value(r.drop_unknown_id);
    w.key("resolver.drop.wrong_question").value(r.drop_wrong_question);
  }
  w.end_object();
  if (auto* core = rz::net::stack_core()) {
    auto& nic = core->nic();
    auto s = nic.stats();
    w.key("nic").begin_object();
    w.key("rx_frames").value(s.rx_frames).key("rx_bytes").value(s.rx_bytes);
    w.key("tx_frames").value(s.tx_frames).key("tx_bytes").value(s.tx_bytes);
    w.key("rx_dropped_no_buffer").value(s.rx_dropped_no_buffer);
    w.key("tx_dropped_ring_full").value(s.tx_dropped_ring_full);
    w.key("tx_notifies").value(s.tx_notifies);
    w.key("interrupts").value(s.interrupts).end_object();
    w.key("pool").begin_object();
    w.key("capacity").value(std::uint64_t(nic.pool().capacity()));
    w.key("available").value(std::uint64_t(nic.pool().available()));
    w.end_object();
  }
  auto com2 = rz::serial::input_stats(rz::serial::com2);
  w.key("com2").begin_object();
  w.key("rx_interrupts").value(com2.interrupts).key("rx_bytes").value(com2.bytes);
  w.key("rx_dropped").value(com2.dropped).end_object();
  auto h = os::heap_stats();
  w.key("heap").begin_object();
  w.key("capacity").value(std::uint64_t(h.capacity)).key("in_use").value(std::uint64_t(h.in_use));
  w.key("peak").value(std::uint64_t(h.peak)).key("live").value(std::uint64_t(h.live));
  w.end_object();
}

void arp(rz::json::Writer& w) {
  w.key("entries").begin_array();
  rz::net::stack()->for_each_arp_entry([&](const rz::net::ArpEntryView& e) {
    w.begin_object();
    w.key("ip").value(e.ip.to_string()).key("mac").value(e.mac.to_string());
    w.key("resolved").value(e.resolved).key("age_ms").value(e.age_ms);
    w.key("queued").value(std::uint64_t(e.queued)).end_object();
  });
  w.end_array();
}

// ---- UDP sockets the harness opens -------------------------------------------

constexpr std::size_t max_held = 512;  // datagrams kept per socket for udp_recv

struct AgentSocket {
  rz::net::UdpSocket* socket = nullptr;
  bool echo = false;
  struct Datagram {
    rz::net::Ipv4Address src, dst;
    std::uint16_t src_port;
    std::vector<std::uint8_t> data;
    bool broadcast;
  };
  std::deque<Datagram> held;
  std::uint64_t dropped = 0;  // not held: over max_held
  struct Error {
    rz::net::Ipv4Address dst;
    std::uint16_t dst_port;
    rz::net::SendResult why;
  };
  std::deque<Error> errors;
};
std::map<std::uint16_t, AgentSocket> sockets;

using rz::agent::port_of;
using rz::agent::to_hex;

bool udp_bind(const rz::json::Object& r, rz::json::Writer& w, std::string& why) {
  auto port = port_of(r, "port", why);
  if (!port) return false;
  rz::net::UdpSocket* s = rz::net::udp_bind(*port);
  if (!s) {
    why = "port " + std::to_string(*port) + " is taken (or no socket is free)";
    return false;
  }
  AgentSocket& a = sockets[s->port()];
  a = AgentSocket{};
  a.socket = s;
  a.echo = r.boolean("echo").value_or(false);
  std::uint16_t bound = s->port();
  s->on_receive([bound](const rz::net::UdpDatagram& d) {
    AgentSocket& a = sockets[bound];
    if (a.echo) {
      // RFC 862 over UDP: the data back to where it came from.
      a.socket->send_to(d.src, d.src_port, d.data, d.now_ms);
      return;
    }
    if (a.held.size() == max_held) {
      ++a.dropped;
      return;
    }
    a.held.push_back({d.src, d.dst, d.src_port, {d.data.begin(), d.data.end()}, d.broadcast});
  });
  s->on_error([bound](rz::net::Ipv4Address dst, std::uint16_t port, rz::net::SendResult why) {
    AgentSocket& a = sockets[bound];
    if (a.errors.size() < max_held) a.errors.push_back({dst, port, why});
  });
  w.key("port").value(unsigned(bound));
  return true;
}

AgentSocket* socket_of(const rz::json::Object& r, std::string& why) {
  auto port = port_of(r, "port", why);
  if (!port) return nullptr;
  auto it = sockets.find(*port);
  if (it == sockets.end() || !it->second.socket || !it->second.socket->is_open()) {
    why = "no socket on port " + std::to_string(*port) + " (udp_bind first)";
    return nullptr;
  }
  return &it->second;
}

bool udp_send(const rz::json::Object& r, rz::json::Writer& w, std::string& why) {
  AgentSocket* a = socket_of(r, why);
  if (!a) return false;
  auto ip_text = r.string("ip");
  auto ip = ip_text ? rz::net::Ipv4Address::parse(*ip_text) : std::nullopt;
  if (!ip) {
    why = "bad request: \"ip\" must be a.b.c.d";
    return false;
  }
  auto dst_port = port_of(r, "dst_port", why);
  if (!dst_port) return false;
  auto payload = rz::agent::payload_of(r, 70'000, why);
  if (!payload) return false;
  std::vector<std::uint8_t> data = std::move(*payload);
  auto count = r.integer("count").value_or(1);
  if (count < 1 || count > 10'000) {
    why = "bad request: \"count\" must be 1..10000";
    return false;
  }
  std::map<std::string, std::uint64_t> results;
  const char* first = nullptr;
  for (std::int64_t i = 0; i < count; ++i) {
    auto result = a->socket->send_to(*ip, *dst_port, data, rz::net::now_ms());
    if (!first) first = rz::net::to_string(result);
    ++results[rz::net::to_string(result)];
  }
  w.key("result").value(first);
  w.key("results").begin_object();
  for (auto& [k, v] : results) w.key(k).value(v);
  w.end_object();
  return true;
}

bool udp_recv(const rz::json::Object& r, rz::json::Writer& w, std::string& why) {
  AgentSocket* a = socket_of(r, why);
  if (!a) return false;
  w.key("datagrams").begin_array();
  while (!a->held.empty()) {
    const auto& d = a->held.front();
    w.begin_object();
    w.key("src").value(d.src.to_string()).key("src_port").value(unsigned(d.src_port));
    w.key("dst").value(d.dst.to_string()).key("size").value(std::uint64_t(d.data.size()));
    w.key("hex").value(to_hex(d.data)).key("broadcast").value(d.broadcast);
    w.end_object();
    a->held.pop_front();
  }
  w.end_array();
  w.key("dropped").value(a->dropped);
  w.key("errors").begin_array();
  for (const auto& e : a->errors) {
    w.begin_object().key("dst").value(e.dst.to_string());
    w.key("dst_port").value(unsigned(e.dst_port)).key("why").value(rz::net::to_string(e.why));
    w.end_object();
  }
  a->errors.clear();
  w.end_array();
  const auto& st = a->socket->stats();
  w.key("stats").begin_object();
  w.key("rx_datagrams").value(st.rx_datagrams).key("tx_datagrams").value(st.tx_datagrams);
  w.key("tx_failed").value(st.tx_failed).end_object();
  return true;
}

bool udp_close(const rz::json::Object& r, rz::json::Writer&, std::string& why) {
  AgentSocket* a = socket_of(r, why);
  if (!a) return false;
  std::uint16_t port = a->socket->port();
  a->socket->close();
  sockets.erase(port);
  return true;
}

void dhcp(rz::json::Writer& w) {
  auto* core = rz::net::stack_core();
  rz::net::Dhcp* d = core->dhcp();
  w.key("enabled").value(d != nullptr);
  if (!d) return;
  w.key("state").value(rz::net::Dhcp::to_string(d->state()));
  w.key("xid").value(std::uint64_t(d->xid()));
  const auto& s = d->stats();
  w.key("stats").begin_object();
  w.key("discovers").value(s.discovers).key("requests").value(s.requests);
  w.key("declines").value(s.declines).key("offers").value(s.offers);
  w.key("acks").value(s.acks).key("naks").value(s.naks).key("leases").value(s.leases);
  w.end_object();
  w.key("lease");
  if (!d->lease()) {
    w.null();
    return;
  }
  const auto& l = *d->lease();
  w.begin_object();
  w.key("address").value(l.address.to_string()).key("prefix").value(unsigned(l.prefix));
  w.key("gateway").value(l.gateway.to_string()).key("server").value(l.server.to_string());
  w.key("dns").begin_array();
  for (std::size_t i = 0; i < l.dns_count; ++i) w.value(l.dns[i].to_string());
  w.end_array();
  w.key("lease_s").value(std::uint64_t(l.lease_s));
  w.key("t1_ms").value(l.t1_ms).key("t2_ms").value(l.t2_ms);
  w.key("age_ms").value(rz::net::now_ms() - l.acquired_ms);
  w.end_object();
}

// resolve: the reply waits for the lookup (the harness sends one request
// at a time, so nothing else is asked meanwhile).
bool resolve(const rz::json::Object& r, std::string& why) {
  auto name = r.string("name");
  if (!name) {
    why = "bad request: \"name\" must be a string";
    return false;
  }
  std::optional<std::int64_t> id = r.integer("id");
  std::uint64_t started = rz::net::now_ms();
  auto refused = rz::net::resolve(*name, [id, started](const rz::net::DnsResolver::Result& res) {
    rz::json::Writer w;
    w.begin_object().key("id");
    if (id)
      w.value(*id);
    else
      w.null();
    w.key("ok").value(true);
    if (auto* a = std::get_if<rz::net::Ipv4Address>(&res)) {
      w.key("address").value(a->to_string());
    } else {
      w.key("error").value(rz::net::DnsResolver::to_string(std::get<1>(res)));
    }
    w.key("ms").value(rz::net::now_ms() - started);
    auto* resolver = rz::net::stack_core()->resolver();
    w.key("server").value(resolver->server().to_string());
    w.key("port").value(unsigned(resolver->port()));
    w.end_object();
    reply(w);
  });
  if (refused) {
    why = std::string("not resolving: ") + rz::net::DnsResolver::to_string(*refused);
    return false;
  }
  return true;
}

void handle(std::string_view text) {
  std::string why;
  auto request = rz::json::Object::parse(text, why);
  if (!request) return error_reply(nullptr, "bad request: " + why);
  auto cmd = request->string("cmd");
  if (!cmd) return error_reply(&*request, "bad request: no \"cmd\" string");
  bool needs_stack = *cmd == "config" || *cmd == "arp" || cmd->starts_with("udp_") ||
                     *cmd == "dhcp" || rz::agent::is_tcp_command(*cmd);
  if (needs_stack && !rz::net::stack()) return error_reply(&*request, "no network interface");

  rz::json::Writer w;
  w.begin_object().key("id");
  if (auto id = request->integer("id"))
    w.value(*id);
  else
    w.null();
  w.key("ok").value(true);
  if (*cmd == "ping") {
    w.key("pong").value(true);
  } else if (*cmd == "config") {
    config(w);
  } else if (*cmd == "stats") {
    stats(w);
  } else if (*cmd == "arp") {
    arp(w);
  } else if (*cmd == "dhcp") {
    dhcp(w);
  } else if (*cmd == "resolve") {
    std::string why;
    if (!resolve(*request, why)) return error_reply(&*request, why);
    return;  // the reply comes with the answer
  } else if (*cmd == "udp_bind" || *cmd == "udp_send" || *cmd == "udp_recv" ||
             *cmd == "udp_close") {
    std::string why;
    bool done = *cmd == "udp_bind"   ? udp_bind(*request, w, why)
                : *cmd == "udp_send" ? udp_send(*request, w, why)
                : *cmd == "udp_recv" ? udp_recv(*request, w, why)
                                     : udp_close(*request, w, why);
    if (!done) return error_reply(&*request, why);
  } else if (rz::agent::is_tcp_command(*cmd)) {
    std::string why;
    if (!rz::agent::tcp_command(*cmd, *request, w, why)) return error_reply(&*request, why);
  } else {
    return error_reply(&*request, "unknown command \"" + std::string(*cmd) + "\"");
  }
  w.end_object();
  reply(w);
}

// Received bytes, from the event loop (COM2's receive interrupt collects them).
void input(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      if (discarding)
        error_reply(nullptr, "bad request: line longer than 4096 bytes");
      else if (!line.empty())
        handle(line);
      line.clear();
      discarding = false;
    } else if (c == '\r') {
      continue;
    } else if (!discarding) {
      if (line.size() == max_line) {
        discarding = true;
        line.clear();
      } else {
        line += c;
      }
    }
  }
}

}  // namespace

void Service::start() {
  rz::serial::init(rz::serial::com2);
  line.reserve(max_line);
  if (!rz::serial::on_input(rz::serial::com2, input)) {
    std::printf("agent: no receive interrupt for COM2\n");
    os::shutdown(os::exit_status::failure);
  }
  // "dns=name:a.b.c.d,...": the DNS server too (suites/dns).
  if (auto spec = os::cmdline_arg("dns"); !spec.empty()) {
    auto* core = rz::net::stack_core();
    if (!core || !rz::net::start_dns_server(core->udp(), spec)) {
      std::printf("agent: the DNS server did not start (see above)\n");
      os::shutdown(os::exit_status::failure);
    }
  }
  // "http=PORT": the HTTP server too (suites/http, suites/flood).
  if (auto port = os::cmdline_arg("http"); !port.empty()) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535 ||
        !rz::net::start_http_server(std::uint16_t(n))) {
      std::printf("agent: the HTTP server did not start (http=%.*s)\n", int(port.size()),
                  port.data());
      os::shutdown(os::exit_status::failure);
    }
  }
  std::printf("agent: listening on COM2\n");
}
