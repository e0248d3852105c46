// The conformance agent: the harness's control channel into the unikernel.
// JSON lines on COM2, one request and one reply per line:
//   {"id": 1, "cmd": "ping"}  ->  {"id":1,"ok":true,"pong":true}
// Commands: ping, config, stats, arp. Errors: {"id":..,"ok":false,"error":".."};
// "id" echoes an integer id and is null when there is none (or the line was
// not a valid request). Lines end in "\n" ("\r" is ignored, empty lines are
// skipped); a line over 4096 bytes is dropped up to its newline and answered
// with an error. config and arp need the NIC ("no network interface").
// Input is interrupt-driven: COM2 receive interrupts (ISA IRQ 3, through the
// IOAPIC) collect bytes that reach input() from the event loop.
#include <cstdio>
#include <ringzero/os.hpp>
#include <ringzero/service.hpp>
#include <string>

#include "drivers/serial.hpp"
#include "net/stack.hpp"
#include "net/stack_core.hpp"
#include "services/conformance/json.hpp"

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
  w.end_object();
  if (auto* core = rz::net::stack_core()) {
    auto& nic = core->nic();
    auto s = nic.stats();
    w.key("nic").begin_object();
    w.key("rx_frames").value(s.rx_frames).key("rx_bytes").value(s.rx_bytes);
    w.key("tx_frames").value(s.tx_frames).key("tx_bytes").value(s.tx_bytes);
    w.key("rx_dropped_no_buffer").value(s.rx_dropped_no_buffer);
    w.key("tx_dropped_ring_full").value(s.tx_dropped_ring_full);
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

void handle(std::string_view text) {
  std::string why;
  auto request = rz::json::Object::parse(text, why);
  if (!request) return error_reply(nullptr, "bad request: " + why);
  auto cmd = request->string("cmd");
  if (!cmd) return error_reply(&*request, "bad request: no \"cmd\" string");
  bool needs_stack = *cmd == "config" || *cmd == "arp";
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
  std::printf("agent: listening on COM2\n");
}
