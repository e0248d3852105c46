#include "net/http_server.hpp"

#include <algorithm>
#include <cstdio>

namespace rz::net {

class HttpServer::Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(HttpServer& server, TcpConnection::Ptr tcp)
      : server_(server),
        tcp_(std::move(tcp)),
        parser_(server.config_.limits),
        last_activity_(server.now()) {}

  void start(bool refuse) {
    auto self = shared_from_this();
    // Responses that make no progress for idle_timeout (a client that
    // stopped reading: its window stays shut) end the connection (RFC 9293
    // 3.8.3 user timeout), so such clients cannot hold every slot.
    tcp_->set_user_timeout(server_.config_.idle_timeout_ms);
    tcp_->on_readable([self] { self->pump(); });
    tcp_->on_writable([self] { self->pump(); });
    tcp_->on_closed([self](TcpError) { self->server_.gone(self.get()); });
    if (refuse) {
      Response r;
      r.status = 503;
      r.body = "503 Service Unavailable: too many connections\n";
      queue(nullptr, r, false);
    }
    pump();
  }

  void pump() {
    if (lingering_) return drain();
    flush();
    std::uint8_t buf[4096];
    while (!close_after_ && !generating() && pending() < server_.config_.max_pending) {
      if (in_off_ == in_.size()) {
        in_.clear();
        in_off_ = 0;
        std::size_t n = tcp_->read(buf);
        if (n == 0) break;
        server_.stats_.bytes_in += n;
        in_.assign(reinterpret_cast<const char*>(buf), n);
        active_ = true;
      }
      bool was_started = parser_.started();
      in_off_ += parser_.feed(std::string_view(in_).substr(in_off_));
      if (!was_started && parser_.started()) start_seen_ = true;
      if (parser_.status() == http::RequestParser::Status::need_more && parser_.header_done() &&
          parser_.request().expects_continue && !continued_) {
        // The client waits for this before it sends the body (RFC 9110
        // 10.1.1: a server MUST send 100 or a final status at once).
        continued_ = true;
        out_ += "HTTP/1.1 100 Continue\r\n\r\n";
        flush();
      }
      if (parser_.status() == http::RequestParser::Status::error) {
        server_.stats_.errors[std::size_t(parser_.error())]++;
        Response r;
        int status = http::status_for(parser_.error());
        r.status = status;
        r.body = std::to_string(status) + " " + std::string(reason(status)) + " (" +
                 std::string(http::error_name(parser_.error())) + ")\n";
        queue(nullptr, r, false);
        break;
      }
      if (parser_.status() == http::RequestParser::Status::complete) {
        const auto& req = parser_.request();
        server_.stats_.requests++;
        Response r;
        server_.answer(req, r);
        queue(&req, r, req.keep_alive);
        parser_.reset();
        continued_ = false;
        flush();
      }
    }
    if (!close_after_ && tcp_->eof() && in_off_ == in_.size()) {
      // The client is done sending: what it started and did not finish
      // gets no answer.
      close_after_ = true;
    }
    flush();
  }

  // Timeouts (see HttpServer::tick).
  void tick(std::uint64_t now) {
    if (lingering_) {
      if (now - linger_since_ >= server_.config_.linger_ms) {
        server_.stats_.linger_timeouts++;
        // TCP finishes the close on its own (FIN-WAIT-2 ends after 2 MSL
        // at most); the slot is free now.
        auto self = shared_from_this();
        tcp_->close();
        server_.gone(this);
      }
      return;
    }
    // What happened since the last tick is stamped now: the server's time
    // is the last tick's, up to a tick before the event, and a timeout
    // counted from that would fire early. Sending is not idling: while
    // responses are unsent or unacknowledged the idle time does not run.
    bool busy = close_after_ || generating() || pending() > 0;
    if (active_ || busy || tcp_->unacked() > 0) last_activity_ = now;
    if (start_seen_) started_at_ = now;
    active_ = start_seen_ = false;
    if (busy) return;
    const auto& config = server_.config_;
    bool slow_header = parser_.started() && !parser_.header_done() &&
                       now - started_at_ >= config.header_timeout_ms;
    bool idle = now - last_activity_ >= config.idle_timeout_ms;
    if (slow_header || (idle && parser_.started())) {
      // A header section too slow, or a body that stopped coming.
      server_.stats_.header_timeouts++;
      Response r;
      r.status = 408;
      r.body = "408 Request Timeout\n";
      queue(nullptr, r, false);
      flush();
    } else if (idle) {
      server_.stats_.idle_timeouts++;
      close_after_ = true;
      flush();
    }
  }

  void abort() { tcp_->abort(); }

 private:
  bool generating() const { return generate_ != nullptr; }
  std::size_t pending() const { return out_.size() - out_off_; }

  // Appends a response to the output; `keep` false ends the connection
  // after it.
  void queue(const http::Request* req, const Response& r, bool keep) {
    auto& stats = server_.stats_;
    stats.responses[r.status]++;
    if (r.status >= 400 && r.status != 404 && r.status != 405) keep = false;
    bool head = req && req->method == http::Method::head;
    std::uint64_t length = r.generate ? r.generated_length : r.body.size();
    char line[96];
    std::snprintf(line, sizeof line, "HTTP/1.1 %d %.*s\r\n", r.status, int(reason(r.status).size()),
                  reason(r.status).data());
    out_ += line;
    out_ += "Server: ringzero\r\n";
    out_ += "Content-Type: " + r.content_type + "\r\n";
    out_ += "Content-Length: " + std::to_string(length) + "\r\n";
    for (const auto& [name, value] : r.headers) out_ += name + ": " + value + "\r\n";
    if (!keep)
      out_ += "Connection: close\r\n";
    else if (req && req->version_minor == 0)
      out_ += "Connection: keep-alive\r\n";
    out_ += "\r\n";
    if (!head) {
      if (r.generate) {
        generate_ = r.generate;
        gen_length_ = r.generated_length;
        gen_offset_ = 0;
      } else {
        out_ += r.body;
      }
    }
    if (!keep) close_after_ = true;
  }

  // Writes what TCP takes; ends the connection when all is out and it is to
  // end.
  void flush() {
    while (pending() > 0) {
      auto rest = std::string_view(out_).substr(out_off_);
      std::size_t n =
          tcp_->write({reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()});
      if (n == 0) break;
      out_off_ += n;
      server_.stats_.bytes_out += n;
    }
    if (pending() == 0) {
      out_.clear();
      out_off_ = 0;
    }
    static std::uint8_t chunk[16384];
    while (pending() == 0 && generating() && gen_offset_ < gen_length_) {
      std::size_t n =
          std::min<std::uint64_t>({tcp_->write_space(), sizeof chunk, gen_length_ - gen_offset_});
      if (n == 0) break;
      generate_(gen_offset_, {chunk, n});
      n = tcp_->write({chunk, n});
      if (n == 0) break;
      gen_offset_ += n;
      server_.stats_.bytes_out += n;
    }
    if (generating() && gen_offset_ == gen_length_) generate_ = nullptr;
    if (close_after_ && pending() == 0 && !generating() && !lingering_) {
      // FIN after the last response, then drop what still comes.
      lingering_ = true;
      linger_since_ = server_.now();
      tcp_->shutdown();
      drain();
    }
  }

  void drain() {
    std::uint8_t buf[4096];
    while (std::size_t n = tcp_->read(buf)) server_.stats_.bytes_in += n;
    if (tcp_->eof()) tcp_->close();
  }

  HttpServer& server_;
  TcpConnection::Ptr tcp_;
  http::RequestParser parser_;
  std::string in_;  // read and not yet parsed from in_off_ on
  std::size_t in_off_ = 0;
  std::string out_;  // responses not yet taken by TCP from out_off_ on
  std::size_t out_off_ = 0;
  std::function<void(std::uint64_t, std::span<std::uint8_t>)> generate_;
  std::uint64_t gen_length_ = 0, gen_offset_ = 0;
  bool close_after_ = false;
  bool lingering_ = false;
  bool continued_ = false;  // "100 Continue" sent for the request under way
  std::uint64_t last_activity_ = 0, started_at_ = 0, linger_since_ = 0;
  // Since the last tick: octets came (or the connection opened); a
  // request started.
  bool active_ = true, start_seen_ = false;
};

HttpServer::HttpServer(Tcp& tcp, const HttpConfig& config) : tcp_(tcp), config_(config) {}

HttpServer::~HttpServer() {
  stop();
  // Each connection's callbacks hold it; aborting drops them.
  auto conns = std::move(conns_);
  for (auto& c : conns) c->abort();
}

void HttpServer::route(std::string path, std::initializer_list<http::Method> methods,
                       Handler handler, bool prefix) {
  routes_.push_back({std::move(path), methods, std::move(handler), prefix});
}

bool HttpServer::start() {
  if (listening_) return true;
  listening_ = tcp_.listen(config_.port, [this](TcpConnection::Ptr c) { accept(std::move(c)); });
  return listening_;
}

void HttpServer::stop() {
  if (listening_) tcp_.unlisten(config_.port);
  listening_ = false;
}

void HttpServer::accept(TcpConnection::Ptr c) {
  if (conns_.empty() && on_busy_) on_busy_();
  stats_.connections_total++;
  bool refuse = conns_.size() >= config_.max_connections;
  if (refuse) stats_.connections_refused++;
  auto conn = std::make_shared<Conn>(*this, std::move(c));
  conns_.push_back(conn);
  conn->start(refuse);
}

void HttpServer::gone(Conn* c) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [c](const auto& p) { return p.get() == c; });
  if (it != conns_.end()) conns_.erase(it);
}

void HttpServer::tick(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  // A tick may end connections (gone() edits conns_): walk a copy.
  auto conns = conns_;
  for (auto& c : conns) c->tick(now_ms);
}

void HttpServer::answer(const http::Request& r, Response& out) {
  if (r.method == http::Method::other) {
    out.status = 501;
    out.body = "501 Not Implemented: method " + r.method_text + "\n";
    return;
  }
  // origin-form "/path?query", or absolute-form "http://host/path" (RFC
  // 9112 3.2.2: a server MUST accept it).
  std::string_view path = r.target;
  if (auto scheme = path.find("://"); scheme != std::string_view::npos && path.front() != '/') {
    auto slash = path.find('/', scheme + 3);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  path = path.substr(0, path.find('?'));
  for (const auto& route : routes_) {
    bool match = route.prefix ? path.starts_with(route.path) : path == route.path;
    if (!match) continue;
    auto allows = [&](http::Method m) {
      return std::find(route.methods.begin(), route.methods.end(), m) != route.methods.end();
    };
    bool ok = allows(r.method) || (r.method == http::Method::head && allows(http::Method::get));
    if (!ok) {
      std::string allow;
      for (auto m : route.methods) {
        if (!allow.empty()) allow += ", ";
        allow += method_name(m);
        if (m == http::Method::get && !allows(http::Method::head)) allow += ", HEAD";
      }
      out.status = 405;
      out.body = "405 Method Not Allowed\n";
      out.headers.emplace_back("Allow", allow);
      return;
    }
    route.handler(r, out);
    return;
  }
  out.status = 404;
  out.body = "404 Not Found\n";
}

std::string_view HttpServer::reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace rz::net
