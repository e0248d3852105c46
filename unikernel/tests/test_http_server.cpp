// The HTTP server (http_server.hpp) on stack b, clients on stack a, over
// the simulated link of net_harness.hpp with its fake clock: routes and
// their statuses, keep-alive, pipelining, closing (Connection: close, the
// lingering close after an error), the header and idle timeouts, the
// connection limit, a generated body of 1 MiB, backpressure against a
// client that does not read, and the statistics.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_server.hpp"
#include "net_harness.hpp"

namespace rz::net::test {
namespace {

using http::Method;

constexpr std::uint16_t port = 80;

// Octet i of /bytes/N.
std::uint8_t byte_at(std::uint64_t i) {
  return std::uint8_t(i % 251);
}

const std::string& blob() {
  static const std::string b = [] {
    std::string s(1000, ' ');
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = char('a' + i % 26);
    return s;
  }();
  return b;
}

void routes(HttpServer& s) {
  s.route("/", {Method::get}, [](const http::Request&, HttpServer::Response& r) {
    r.content_type = "text/html";
    r.body = "<!doctype html><title>t</title>\n";
  });
  s.route("/hello", {Method::get},
          [](const http::Request&, HttpServer::Response& r) { r.body = "Hello from ringzero\n"; });
  s.route("/blob", {Method::get},
          [](const http::Request&, HttpServer::Response& r) { r.body = blob(); });
  s.route(
      "/bytes/", {Method::get},
      [](const http::Request& req, HttpServer::Response& r) {
        std::string_view n_text = std::string_view(req.target).substr(7);
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(n_text.data(), n_text.data() + n_text.size(), n);
        if (ec != std::errc() || end != n_text.data() + n_text.size()) {
          r.status = 404;
          return;
        }
        r.content_type = "application/octet-stream";
        r.generated_length = n;
        r.generate = [](std::uint64_t offset, std::span<std::uint8_t> out) {
          for (auto& b : out) b = byte_at(offset++);
        };
      },
      true);
  s.route("/echo", {Method::post, Method::put},
          [](const http::Request& req, HttpServer::Response& r) { r.body = req.body; });
}

Bytes text(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

std::string get(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: ringzero\r\n" + std::string(extra) +
         "\r\n";
}

// One response as the client read it.
struct Response {
  std::string version;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> fields;  // names lowercased
  std::string body;
  std::size_t size = 0;  // octets in the stream

  std::string field(std::string_view name) const {
    for (const auto& [n, v] : fields)
      if (n == name) return v;
    return "<none>";
  }
  std::size_t count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& f : fields) n += f.first == name;
    return n;
  }
};

// The complete responses at the start of `stream`; `heads` holds the
// indexes of those that answer HEAD (no body).
std::vector<Response> responses(const Bytes& stream, const std::set<std::size_t>& heads = {}) {
  std::string_view s(reinterpret_cast<const char*>(stream.data()), stream.size());
  std::vector<Response> out;
  while (true) {
    auto end = s.find("\r\n\r\n");
    if (end == std::string_view::npos) break;
    Response r;
    std::string_view head = s.substr(0, end + 2);
    auto eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    r.version = std::string(status_line.substr(0, status_line.find(' ')));
    if (status_line.size() >= 12)
      r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    while (!head.empty()) {
      eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      head.remove_prefix(eol + 2);
      auto colon = line.find(':');
      std::string name(line.substr(0, colon));
      for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.fields.emplace_back(name, std::string(value));
    }
    std::size_t length = 0;
    if (!heads.count(out.size())) length = std::stoul(r.field("content-length"));
    if (s.size() < end + 4 + length) break;
    r.body = std::string(s.substr(end + 4, length));
    r.size = end + 4 + length;
    s.remove_prefix(r.size);
    out.push_back(std::move(r));
  }
  return out;
}

// What every response carries (contract): HTTP/1.1, Server, one
// Content-Length, no Date.
void check_common(const Response& r) {
  CHECK(r.version == "HTTP/1.1");
  CHECK(r.field("server") == "ringzero");
  CHECK(r.count("content-length") == 1);
  CHECK(r.count("date") == 0);
}

// The server on b, its tick() every 250 ms of the link's clock as the
// kernel glue does, and clients on a.
struct Fixture {
  Link l;
  HttpServer http;
  std::deque<Client> clients;  // stable addresses: their callbacks hold them

  explicit Fixture(const HttpConfig& config = {}, std::string_view link = "")
      : l(link), http(l.b.tcp(), config) {
    routes(http);
    REQUIRE(http.start());
    http.tick(l.now);
    l.each_ms = [this](std::uint64_t now) {
      if (now % 250 == 0) http.tick(now);
    };
  }

  // A client that connects and sends `request`, and does not half-close.
  Client& connect(std::string_view request = "") {
    auto& c = clients.emplace_back();
    c.start(l, ip_b, port, text(request), false);
    return c;
  }
  // Runs until `c` has `n` complete responses.
  std::vector<Response> wait(Client& c, std::size_t n, const std::set<std::size_t>& heads = {},
                             std::uint64_t ms = 5000) {
    std::vector<Response> got;
    std::size_t parsed = ~std::size_t(0);
    l.run_until(ms, [&] {
      if (c.got.size() != parsed) {  // parse again only when more came
        parsed = c.got.size();
        got = responses(c.got, heads);
      }
      return got.size() >= n;
    });
    REQUIRE(got.size() == n);
    for (const auto& r : got) check_common(r);
    return got;
  }
  // Runs until the server sent FIN on `c` (everything read).
  bool wait_eof(Client& c, std::uint64_t ms = 5000) {
    return l.run_until(ms, [&] { return c.c->eof(); });
  }
  std::uint64_t resets_sent() { return l.counter(l.b, "tcp.tx.resets"); }
};

}  // namespace

TEST_CASE("http server: GET, HEAD, 404 and 405 on one connection; 501 closes it") {
  Fixture f;
  auto& c = f.connect(get("/"));
  auto r = f.wait(c, 1);
  CHECK(r[0].status == 200);
  CHECK(r[0].field("content-type") == "text/html");
  CHECK(r[0].body == "<!doctype html><title>t</title>\n");
  CHECK(r[0].count("connection") == 0);  // 1.1: persistent, nothing to say

  c.send(get("/hello"));
  r = f.wait(c, 2);
  CHECK(r[1].status == 200);
  CHECK(r[1].body == "Hello from ringzero\n");
  CHECK(r[1].field("content-length") == "20");

  // HEAD: GET's header section, Content-Length included, and no body.
  c.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  r = f.wait(c, 3, {2});
  CHECK(r[2].status == 200);
  CHECK(r[2].field("content-length") == "20");
  CHECK(r[2].body.empty());
  f.l.run(50);
  CHECK(responses(c.got, {2}).size() == 3);
  std::size_t all = 0;
  for (const auto& x : r) all += x.size;
  CHECK(c.got.size() == all);  // nothing after HEAD's header section

  c.send(get("/nowhere"));
  r = f.wait(c, 4, {2});
  CHECK(r[3].status == 404);
  CHECK(r[3].count("connection") == 0);

  c.send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  r = f.wait(c, 5, {2});
  CHECK(r[4].status == 405);
  CHECK(r[4].field("allow") == "GET, HEAD");
  c.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  r = f.wait(c, 6, {2});
  CHECK(r[5].status == 405);
  CHECK(r[5].field("allow") == "POST, PUT");
  CHECK_FALSE(c.c->eof());
  CHECK(f.http.open_connections() == 1);

  // A method the server does not know: 501, Connection: close, FIN.
  c.send("BREW /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  r = f.wait(c, 7, {2});
  CHECK(r[6].status == 501);
  CHECK(r[6].field("connection") == "close");
  REQUIRE(f.wait_eof(c));
  c.c->close();
  REQUIRE(f.l.run_until(5000, [&] { return f.http.open_connections() == 0; }));
  CHECK(f.resets_sent() == 0);
  CHECK(f.http.stats().connections_total == 1);
}

TEST_CASE("http server: keep-alive, two requests on one connection; HTTP/1.0 by its rules") {
  Fixture f;
  auto& c = f.connect(get("/hello"));
  f.wait(c, 1);
  f.l.run(500);
  c.send(get("/hello"));
  auto r = f.wait(c, 2);
  CHECK(r[0].status == 200);
  CHECK(r[1].status == 200);
  CHECK(r[1].body == "Hello from ringzero\n");
  CHECK_FALSE(c.c->eof());
  CHECK(f.http.stats().connections_total == 1);
  CHECK(f.http.stats().requests == 2);

  // HTTP/1.0 asking for keep-alive gets it, and says so.
  auto& k = f.connect("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  r = f.wait(k, 1);
  CHECK(r[0].field("connection") == "keep-alive");
  f.l.run(100);
  CHECK_FALSE(k.c->eof());
  k.send("GET /hello HTTP/1.0\r\n\r\n");  // this one does not ask: the last
  r = f.wait(k, 2);
  CHECK(r[1].field("connection") == "close");
  CHECK(f.wait_eof(k));
}

TEST_CASE("http server: three pipelined requests in one write, three responses in order") {
  Fixture f;
  std::string three = get("/hello") +
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n" + "second" +
                      get("/nowhere");
  auto& c = f.connect(three);
  auto r = f.wait(c, 3);
  CHECK(r[0].status == 200);
  CHECK(r[0].body == "Hello from ringzero\n");
  CHECK(r[1].status == 200);
  CHECK(r[1].body == "second");
  CHECK(r[2].status == 404);
  CHECK(f.http.stats().requests == 3);
  CHECK_FALSE(c.c->eof());

  // Chunked too, and an error among them: answered in order, then the end.
  std::string more =
      "PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nT: 1\r\n\r\n" +
      get("/hello") + "GET / HTTP/1.1\r\nHost: x\r\nBad Field: 1\r\n\r\n" + get("/hello");
  c.send(more);
  r = f.wait(c, 6);
  CHECK(r[3].body == "abcdefg");
  CHECK(r[4].body == "Hello from ringzero\n");
  CHECK(r[5].status == 400);
  CHECK(r[5].field("connection") == "close");
  CHECK(f.wait_eof(c));
  f.l.run(100);
  CHECK(responses(c.got).size() == 6);  // the request after the error: no answer
}

TEST_CASE("http server: requests then the client's FIN: all answered, then the server's FIN") {
  Fixture f;
  auto& c = f.clients.emplace_back();
  // A generated body first: the requests after it wait in the server.
  c.start(f.l, ip_b, port, text(get("/bytes/300000") + get("/hello") + get("/nowhere")), true);
  REQUIRE(f.wait_eof(c, 30'000));
  auto r = responses(c.got);
  REQUIRE(r.size() == 3);
  CHECK(r[0].body.size() == 300'000);
  CHECK(r[1].body == "Hello from ringzero\n");
  CHECK(r[2].status == 404);
  REQUIRE(f.l.run_until(5000, [&] { return c.closed && f.http.open_connections() == 0; }));
  CHECK(c.error == TcpError::none);
  CHECK(f.resets_sent() == 0);

  // An incomplete request before the FIN gets no answer.
  auto& d = f.clients.emplace_back();
  d.start(f.l, ip_b, port, text(get("/hello") + "GET /hel"), true);
  REQUIRE(f.wait_eof(d));
  CHECK(responses(d.got).size() == 1);
  CHECK(d.got.size() == responses(d.got)[0].size);
}

TEST_CASE("http server: Connection: close, the response says so and FIN follows it") {
  Fixture f;
  auto& c = f.connect(get("/hello", "Connection: close\r\n"));
  auto r = f.wait(c, 1);
  CHECK(r[0].status == 200);
  CHECK(r[0].field("connection") == "close");
  REQUIRE(f.wait_eof(c));
  CHECK(c.got.size() == r[0].size);
  c.c->close();
  REQUIRE(f.l.run_until(5000, [&] { return c.closed && f.http.open_connections() == 0; }));
  CHECK(c.error == TcpError::none);
  CHECK(f.resets_sent() == 0);
}

TEST_CASE("http server: lingering close, data after an error response does not reset it") {
  Fixture f;
  auto& c = f.connect("GET / HTTP/1.1\nHost: x\r\n\r\n");  // bare LF: 400
  c.reading = false;  // the response waits in the client's receive buffer
  f.l.run(50);
  // More requests were on their way: 40 KB of them.
  std::string more;
  while (more.size() < 40'000) more += get("/hello");
  c.send(more);
  f.l.run(1500);
  CHECK(f.resets_sent() == 0);
  CHECK_FALSE(c.closed);
  CHECK(c.c->state() == TcpState::close_wait);  // the server's FIN came
  c.reading = true;
  c.pump();
  auto r = responses(c.got);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == 400);
  CHECK(r[0].field("connection") == "close");
  CHECK(c.c->eof());
  // The server read and dropped what came after.
  CHECK(f.http.stats().bytes_in == c.data.size());
  CHECK(f.http.stats().requests == 0);
  c.c->close();
  REQUIRE(f.l.run_until(5000, [&] { return c.closed && f.http.open_connections() == 0; }));
  CHECK(c.error == TcpError::none);
  CHECK(f.resets_sent() == 0);
}

TEST_CASE("http server: a header section too slow gets 408 and the close") {
  HttpConfig config;
  config.header_timeout_ms = 1000;
  config.idle_timeout_ms = 5000;
  Fixture f(config);
  auto& c = f.connect("GET /hello HTTP/1.1\r\nHost: x\r\n");
  std::uint64_t start = f.l.now, last = start;
  // A field every 200 ms: never idle, never done.
  bool eof = f.l.run_until(3000, [&] {
    if (f.l.now - last >= 200 && !c.c->eof()) {
      last = f.l.now;
      c.send("X-Slow: 1\r\n");
    }
    return c.c->eof();
  });
  REQUIRE(eof);
  auto r = responses(c.got);
  REQUIRE(r.size() == 1);
  check_common(r[0]);
  CHECK(r[0].status == 408);
  CHECK(r[0].field("connection") == "close");
  CHECK(f.l.now - start >= 1000);
  CHECK(f.l.now - start <= 1300);
  CHECK(f.http.stats().header_timeouts == 1);
  CHECK(f.http.stats().responses.at(408) == 1);
}

TEST_CASE("http server: an idle connection is closed after idle_timeout, without a response") {
  HttpConfig config;
  config.idle_timeout_ms = 2000;
  Fixture f(config);
  auto& c = f.connect(get("/hello"));
  f.wait(c, 1);
  std::uint64_t answered = f.l.now;
  f.l.run(1900);
  CHECK_FALSE(c.c->eof());
  REQUIRE(f.wait_eof(c));
  CHECK(f.l.now - answered >= 2000);
  CHECK(f.l.now - answered <= 2300);
  CHECK(responses(c.got).size() == 1);
  CHECK(c.got.size() == responses(c.got)[0].size);  // nothing but the one response
  CHECK(f.http.stats().idle_timeouts == 1);
  c.c->close();
  REQUIRE(f.l.run_until(5000, [&] { return f.http.open_connections() == 0; }));

  // A body that stops coming: 408 after idle_timeout.
  auto& b = f.connect("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  std::uint64_t start = f.l.now;
  REQUIRE(f.wait_eof(b));
  CHECK(f.l.now - start >= 2000);
  auto r = responses(b.got);
  REQUIRE(r.size() == 1);
  CHECK(r[0].status == 408);
}

TEST_CASE("http server: the idle time counts from the end of the last response") {
  // A response that takes longer to deliver than idle_timeout (the client
  // reads it late), then after less than idle_timeout the next request: it
  // is answered.
  HttpConfig config;
  config.idle_timeout_ms = 1000;
  Fixture f(config);
  auto& c = f.connect(get("/bytes/2000000"));
  c.reading = false;
  f.l.run(3000);
  CHECK(f.http.stats().idle_timeouts == 0);
  c.reading = true;
  c.pump();
  f.wait(c, 1, {}, 10'000);
  f.l.run(500);
  CHECK_FALSE(c.c->eof());
  c.send(get("/hello"));
  auto r = f.wait(c, 2);
  CHECK(r[1].status == 200);
  CHECK(r[1].body == "Hello from ringzero\n");
  CHECK(f.http.stats().idle_timeouts == 0);
}

TEST_CASE("http server: beyond max_connections, 503 and the close, counted as refused") {
  HttpConfig config;
  config.max_connections = 2;
  Fixture f(config);
  auto& one = f.connect(get("/hello"));
  auto& two = f.connect(get("/hello"));
  f.wait(one, 1);
  f.wait(two, 1);
  CHECK(f.http.open_connections() == 2);
  auto& three = f.connect(get("/hello"));
  auto r = f.wait(three, 1);
  CHECK(r[0].status == 503);
  CHECK(r[0].field("connection") == "close");
  REQUIRE(f.wait_eof(three));
  CHECK(f.http.stats().connections_refused == 1);
  CHECK(f.http.stats().connections_total == 3);
  CHECK(f.http.stats().responses.at(503) == 1);
  CHECK(f.http.stats().requests == 2);  // the refused one's was not taken
  three.c->close();
  REQUIRE(f.l.run_until(5000, [&] { return f.http.open_connections() == 2; }));
  // The two still work, and once one is gone a new one is served.
  one.send(get("/hello"));
  CHECK(f.wait(one, 2)[1].status == 200);
  two.send(get("/hello", "Connection: close\r\n"));
  f.wait(two, 2);
  REQUIRE(f.wait_eof(two));
  two.c->close();
  REQUIRE(f.l.run_until(5000, [&] { return f.http.open_connections() == 1; }));
  auto& four = f.connect(get("/hello"));
  CHECK(f.wait(four, 1)[0].status == 200);
  CHECK(f.http.stats().connections_refused == 1);
  CHECK(f.resets_sent() == 0);
}

TEST_CASE("http server: a generated body of 1 MiB arrives complete and correct") {
  Fixture f;
  auto& c = f.connect(get("/bytes/1048576") + "HEAD /bytes/1048576 HTTP/1.1\r\nHost: x\r\n\r\n" +
                      get("/hello"));
  auto r = f.wait(c, 3, {1}, 60'000);
  CHECK(r[0].status == 200);
  CHECK(r[0].field("content-type") == "application/octet-stream");
  CHECK(r[0].field("content-length") == "1048576");
  REQUIRE(r[0].body.size() == 1048576);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < r[0].body.size(); ++i)
    wrong += std::uint8_t(r[0].body[i]) != byte_at(i);
  CHECK(wrong == 0);
  CHECK(r[1].field("content-length") == "1048576");
  CHECK(r[1].body.empty());
  CHECK(r[2].body == "Hello from ringzero\n");
  f.l.run(50);
  std::size_t all = r[0].size + r[1].size + r[2].size;
  CHECK(c.got.size() == all);
  CHECK(f.http.stats().bytes_out == all);
}

TEST_CASE("http server: a client that pipelines 1000 requests and does not read") {
  HttpConfig config;
  Fixture f(config);
  // One response's size.
  auto& probe = f.connect(get("/blob"));
  auto one = f.wait(probe, 1);
  REQUIRE(one[0].body == blob());
  const std::size_t size = one[0].size;
  const auto base = f.http.stats();

  std::string requests;
  for (int i = 0; i < 1000; ++i) requests += get("/blob");
  auto& c = f.connect(requests);
  c.reading = false;
  // Response octets made and not yet taken by TCP: the server's own buffer.
  auto pending = [&] {
    const auto& s = f.http.stats();
    return (s.requests - base.requests) * size - (s.bytes_out - base.bytes_out);
  };
  std::uint64_t most = 0;
  f.l.run_until(3000, [&] {
    most = std::max<std::uint64_t>(most, pending());
    return false;
  });
  CHECK(c.offset == requests.size());  // the client sent them all
  // The server stopped: not all answered, and what waits stays bounded.
  CHECK(f.http.stats().requests - base.requests < 1000);
  CHECK(most >= config.max_pending);
  CHECK(most <= config.max_pending + size);
  CHECK(f.http.open_connections() == 2);

  c.reading = true;
  c.pump();
  auto r = f.wait(c, 1000, {}, 60'000);
  std::size_t bad = 0;
  for (const auto& x : r) bad += x.status != 200 || x.body != blob();
  CHECK(bad == 0);
  CHECK(c.got.size() == 1000 * size);
  CHECK(f.http.stats().requests - base.requests == 1000);
  CHECK(pending() == 0);
}

TEST_CASE("http server: bodies, 413 over max_body, and the statistics") {
  HttpConfig config;
  config.limits.max_body = 1000;
  Fixture f(config);
  auto& c = f.connect("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + blob());
  auto r = f.wait(c, 1);
  CHECK(r[0].body == blob());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n");
  r = f.wait(c, 2);
  CHECK(r[1].status == 413);
  CHECK(r[1].field("connection") == "close");
  REQUIRE(f.wait_eof(c));

  auto& d = f.connect(get("/hello") + get("/nowhere") + "GET / HTTP/1.1\r\n\r\n");  // no Host
  r = f.wait(d, 3);
  CHECK(r[2].status == 400);
  REQUIRE(f.wait_eof(d));
  f.l.run(100);

  const auto& s = f.http.stats();
  CHECK(s.connections_total == 2);
  CHECK(s.connections_refused == 0);
  CHECK(s.requests == 3);  // the errors are not requests
  CHECK(s.responses.at(200) == 2);
  CHECK(s.responses.at(404) == 1);
  CHECK(s.responses.at(400) == 1);
  CHECK(s.responses.at(413) == 1);
  CHECK(s.errors[std::size_t(http::Error::body_too_large)] == 1);
  CHECK(s.errors[std::size_t(http::Error::host_missing)] == 1);
  CHECK(s.bytes_in == c.data.size() + d.data.size());
  CHECK(s.bytes_out == c.got.size() + d.got.size());
  CHECK(s.header_timeouts == 0);
  CHECK(s.idle_timeouts == 0);
  CHECK(f.http.open_connections() == 2);  // both lingering until the clients close
  c.c->close();
  d.c->close();
  REQUIRE(f.l.run_until(5000, [&] { return f.http.open_connections() == 0; }));
  CHECK(f.resets_sent() == 0);
}

TEST_CASE("http server: ticked only while busy, as the glue does; timeouts still count") {
  Fixture f;
  bool ticking = false;
  int busy = 0;
  f.http.on_busy([&] {
    ++busy;
    f.http.tick(f.l.now);
    ticking = true;
  });
  f.l.each_ms = [&](std::uint64_t now) {
    if (!ticking || now % 250 != 0) return;
    f.http.tick(now);
    if (f.http.open_connections() == 0) ticking = false;
  };
  f.l.run(60'000);  // a minute idle: no ticks, the server's clock stands still
  CHECK(busy == 0);

  // A client that starts a request and does not finish its header
  // section: the header timeout counts from its arrival, not from the
  // last tick a minute ago.
  auto& silent = f.connect("GET /hello HTTP/1.1\r\nHost: x\r\n");
  auto& other = f.connect(get("/hello"));
  f.wait(other, 1);
  CHECK(busy == 1);  // the second arrived while the first was open
  f.l.run(HttpConfig{}.header_timeout_ms - 1000);
  CHECK(f.http.stats().header_timeouts == 0);
  REQUIRE(f.l.run_until(3000, [&] { return f.http.stats().header_timeouts == 1; }));
  other.c->close();
  silent.c->close();
  REQUIRE(f.l.run_until(5000, [&] { return f.http.open_connections() == 0; }));
  f.l.run(1000);
  CHECK_FALSE(ticking);  // idle again: the ticks stopped

  auto& again = f.connect(get("/hello"));
  CHECK(f.wait(again, 1)[0].status == 200);
  CHECK(busy == 2);
}

}  // namespace rz::net::test
