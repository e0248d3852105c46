// An HTTP/1.1 origin server (RFC 9112, RFC 9110) on the stack's TCP: routes
// of path -> handler, persistent connections and pipelining, and limits on
// everything a client controls. No clock of its own: the owner calls
// tick() (the kernel glue, <ringzero/http.hpp>, every 250 ms while
// connections are open).
//
// A connection's life:
//   - beyond max_connections open ones: "503 Service Unavailable" and a
//     close (counted as refused);
//   - requests are parsed as they come (http_parser.hpp) and answered in
//     order, each response complete with Content-Length; while more than
//     max_pending octets of responses wait unsent, nothing more is read (a
//     pipelining client that never reads only closes its TCP window);
//   - a parse error gets its status (400, 413, 414, 431, 501, 505) with
//     "Connection: close"; so does a header section not complete within
//     header_timeout_ms (408);
//   - output that makes no progress for idle_timeout_ms (a client that
//     stopped reading) ends the connection: TCP's user timeout;
//   - a connection ends after a response with "Connection: close" (the
//     request asked, HTTP/1.0, or an error), or after idle_timeout_ms with
//     no request under way. Ending is a lingering close (RFC 9112 9.6):
//     FIN after the last response, then what the client still sends is
//     read and dropped until its FIN (or linger_ms), so that a request
//     already on its way does not turn into a reset that destroys the
//     response before the client read it.
//   - HEAD gets GET's header section, Content-Length included, no body.
//   - Unknown methods (not GET HEAD POST PUT DELETE OPTIONS PATCH): 501;
//     a path no route has: 404; a route without that method: 405 with
//     Allow (HEAD is allowed wherever GET is).
// No Date header: the unikernel has no trustworthy wall clock (RFC 9110
// 6.6.1: a server without one MUST NOT send Date).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_parser.hpp"
#include "net/tcp.hpp"

namespace rz::net {

struct HttpConfig {
  std::uint16_t port = 80;
  std::uint32_t max_connections = 256;
  std::uint32_t header_timeout_ms = 10'000;
  std::uint32_t idle_timeout_ms = 30'000;
  std::uint32_t linger_ms = 2'000;
  std::size_t max_pending = 64 * 1024;  // response octets unsent before reading pauses
  http::Limits limits;
};

class HttpServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // A body made as it is sent instead (body stays empty): `length` octets,
    // generate(offset, out) fills `out` with those at `offset`.
    std::uint64_t generated_length = 0;
    std::function<void(std::uint64_t offset, std::span<std::uint8_t> out)> generate;
    std::vector<std::pair<std::string, std::string>> headers;  // more fields
  };
  using Handler = std::function<void(const http::Request&, Response&)>;

  struct Stats {
    std::uint64_t connections_total = 0, connections_refused = 0;
    std::uint64_t requests = 0, bytes_in = 0, bytes_out = 0;
    std::uint64_t header_timeouts = 0, idle_timeouts = 0, linger_timeouts = 0;
    std::array<std::uint64_t, http::error_count> errors{};  // by parse error
    std::map<int, std::uint64_t> responses;                 // by status code
  };

  HttpServer(Tcp& tcp, const HttpConfig& config);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `path` exactly, or every path that starts with it when it ends in '/'
  // and `prefix` is set. The first route that matches wins.
  void route(std::string path, std::initializer_list<http::Method> methods, Handler handler,
             bool prefix = false);
  // Listens on config.port; false when the port is taken.
  bool start();
  void stop();
  // Timeouts; call every few hundred ms while connections are open.
  void tick(std::uint64_t now_ms);
  // Called when a connection arrives while none is open, before it is
  // taken: the moment to tick() with the current time and to start
  // ticking (an idle server needs no ticks).
  void on_busy(std::function<void()> f) { on_busy_ = std::move(f); }

  const HttpConfig& config() const { return config_; }
  const Stats& stats() const { return stats_; }
  std::size_t open_connections() const { return conns_.size(); }
  static std::string_view reason(int status);

 private:
  class Conn;
  friend class Conn;
  void accept(TcpConnection::Ptr c);
  void answer(const http::Request& r, Response& out);
  void gone(Conn* c);
  std::uint64_t now() const { return now_ms_; }

  Tcp& tcp_;
  HttpConfig config_;
  struct Route {
    std::string path;
    std::vector<http::Method> methods;
    Handler handler;
    bool prefix;
  };
  std::vector<Route> routes_;
  std::vector<std::shared_ptr<Conn>> conns_;
  Stats stats_;
  std::uint64_t now_ms_ = 0;
  bool listening_ = false;
  std::function<void()> on_busy_;
};

}  // namespace rz::net
