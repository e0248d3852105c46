// The kernel's HTTP server (<ringzero/http.hpp>): configuration from the
// command line, the standard routes, and the timer that drives tick().
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <ringzero/http.hpp>
#include <ringzero/os.hpp>
#include <ringzero/timer.hpp>
#include <string>

#include "net/stack_core.hpp"

namespace rz::net {
namespace {

std::unique_ptr<HttpServer> server;
os::Timers::id_t tick_timer = 0;
bool ticking = false;

std::uint64_t now_ms() {
  return std::uint64_t(os::uptime().count()) / 1'000'000;
}

std::optional<std::uint64_t> number(std::string_view key, std::uint64_t lo, std::uint64_t hi) {
  auto text = os::cmdline_arg(key);
  if (text.empty()) return std::nullopt;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < lo || n > hi) {
    std::printf("http: %.*s=%.*s is not a number from %llu to %llu; default kept\n",
                int(key.size()), key.data(), int(text.size()), text.data(),
                static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi));
    return std::nullopt;
  }
  return n;
}

HttpConfig config_from_cmdline(std::uint16_t port, const TcpConfig& tcp) {
  HttpConfig c;
  c.port = port;
  if (auto n = number("http_header_timeout", 100, 3'600'000))
    c.header_timeout_ms = std::uint32_t(*n);
  if (auto n = number("http_idle_timeout", 100, 86'400'000)) c.idle_timeout_ms = std::uint32_t(*n);
  if (auto n = number("http_max_body", 0, 64 << 20)) c.limits.max_body = *n;
  // Every buffer of a connection full: TCP's both ways, a header section,
  // a body, the responses waiting.
  std::uint64_t worst = std::uint64_t(tcp.rcvbuf) + tcp.sndbuf + c.limits.max_header_bytes +
                        c.limits.max_body + c.max_pending;
  c.max_connections =
      std::uint32_t(std::clamp<std::uint64_t>(os::heap_stats().capacity / 2 / worst, 16, 256));
  if (auto n = number("http_max_connections", 1, 65'535)) c.max_connections = std::uint32_t(*n);
  return c;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c >= 0x7F) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += ch;
    }
  }
  out += '"';
}

void member(std::string& out, std::string_view key, std::uint64_t v, bool comma = true) {
  append_json_string(out, key);
  out += ':';
  out += std::to_string(v);
  if (comma) out += ',';
}

std::string stats_json() {
  std::string j = "{";
  member(j, "uptime_ms", now_ms());
  auto h = os::heap_stats();
  j += "\"heap\":{";
  member(j, "capacity", h.capacity);
  member(j, "in_use", h.in_use);
  member(j, "peak", h.peak);
  member(j, "live", h.live, false);
  j += "},\"http\":{";
  const auto& s = server->stats();
  member(j, "connections", server->open_connections());
  member(j, "max_connections", server->config().max_connections);
  member(j, "connections_total", s.connections_total);
  member(j, "connections_refused", s.connections_refused);
  member(j, "requests", s.requests);
  member(j, "bytes_in", s.bytes_in);
  member(j, "bytes_out", s.bytes_out);
  member(j, "header_timeouts", s.header_timeouts);
  member(j, "idle_timeouts", s.idle_timeouts);
  member(j, "linger_timeouts", s.linger_timeouts);
  j += "\"responses\":{";
  bool first = true;
  for (const auto& [status, n] : s.responses) {
    if (!first) j += ',';
    first = false;
    member(j, std::to_string(status), n, false);
  }
  j += "},\"errors\":{";
  for (std::size_t i = 1; i < http::error_count; ++i)
    member(j, http::error_name(http::Error(i)), s.errors[i], i + 1 < http::error_count);
  j += "}},\"tcp\":{";
  auto* core = stack_core();
  member(j, "connections", core ? core->tcp().connections() : 0, false);
  j += "},\"counters\":{";
  first = true;
  if (core) {
    core->for_each_counter([&](std::string_view name, std::uint64_t v) {
      if (!first) j += ',';
      first = false;
      member(j, name, v, false);
    });
  }
  j += "}}\n";
  return j;
}

void standard_routes(HttpServer& s) {
  using http::Method;
  s.route("/", {Method::get}, [](const http::Request&, HttpServer::Response& r) {
    r.content_type = "text/html; charset=utf-8";
    r.body =
        "<!doctype html>\n<html><head><title>ringzero</title></head>\n"
        "<body><h1>ringzero</h1><p>A unikernel served this page.</p>\n"
        "<p><a href=\"/stats\">/stats</a></p></body></html>\n";
  });
  s.route("/hello", {Method::get},
          [](const http::Request&, HttpServer::Response& r) { r.body = "Hello from ringzero\n"; });
  s.route(
      "/bytes/", {Method::get},
      [](const http::Request& req, HttpServer::Response& r) {
        std::string_view path = req.target;
        path = path.substr(path.find("/bytes/") + 7);
        path = path.substr(0, path.find('?'));
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), n);
        if (path.empty() || ec != std::errc() || end != path.data() + path.size() ||
            n > (16u << 20)) {
          r.status = 404;
          r.body = "404 Not Found: /bytes/N takes N from 0 to 16777216\n";
          return;
        }
        r.content_type = "application/octet-stream";
        r.generated_length = n;
        r.generate = [](std::uint64_t offset, std::span<std::uint8_t> out) {
          // Whole runs of the period copied, not an octet and a division
          // at a time (which costs a call into the emulator under TCG).
          static const auto period = [] {
            std::array<std::uint8_t, 251> p{};
            for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::uint8_t(i);
            return p;
          }();
          std::size_t at = std::size_t(offset % period.size());
          for (std::size_t done = 0; done < out.size();) {
            std::size_t n = std::min(period.size() - at, out.size() - done);
            std::memcpy(out.data() + done, period.data() + at, n);
            done += n;
            at = 0;
          }
        };
      },
      true);
  s.route("/echo", {Method::post, Method::put},
          [](const http::Request& req, HttpServer::Response& r) {
            const std::string* type = req.field("content-type");
            r.content_type = type ? *type : "application/octet-stream";
            r.body = req.body;
          });
  s.route("/stats", {Method::get}, [](const http::Request&, HttpServer::Response& r) {
    r.content_type = "application/json";
    r.body = stats_json();
  });
}

}  // namespace

bool start_http_server(std::uint16_t port) {
  auto* core = stack_core();
  if (!core) {
    std::printf("http: no network interface\n");
    return false;
  }
  if (server) {
    std::printf("http: a server runs already\n");
    return false;
  }
  server = std::make_unique<HttpServer>(core->tcp(), config_from_cmdline(port, core->config().tcp));
  standard_routes(*server);
  core->on_configured([port] {
    if (!server->start()) {
      std::printf("http: port %u is taken\n", unsigned(port));
      return;
    }
    // Ticks (timeouts) every 250 ms only while connections are open: an
    // idle server costs the CPU nothing.
    server->on_busy([] {
      server->tick(now_ms());
      if (ticking) return;
      ticking = true;
      tick_timer = os::Timers::periodic(std::chrono::milliseconds(250), [] {
        server->tick(now_ms());
        if (server->open_connections() == 0) {
          os::Timers::stop(tick_timer);
          ticking = false;
        }
      });
    });
    std::printf("http: listening on port %u (%u connections at most)\n", unsigned(port),
                unsigned(server->config().max_connections));
  });
  return true;
}

HttpServer* http_server() {
  return server.get();
}

}  // namespace rz::net
