// The classic TCP services, for benchmarks and for trying the stack by hand:
//   echo     port 7  (RFC 862)  everything back; closes after the peer's FIN
//   discard  port 9  (RFC 863)  read and dropped
//   chargen  port 19 (RFC 864)  lines of 72 printable characters, each line
//                                starting one character further on, until
//                                the peer closes
// All three read only as fast as they can write, so a slow peer closes
// their window instead of filling memory. Logs "tcp: echo 7, discard 9,
// chargen 19" once it listens.
#include <algorithm>
#include <cstdio>
#include <ringzero/net.hpp>
#include <ringzero/os.hpp>
#include <ringzero/service.hpp>
#include <ringzero/tcp.hpp>

namespace {

using rz::net::TcpConnection;

void echo(TcpConnection::Ptr c) {
  auto pump = [c] {
    std::uint8_t buf[4096];
    while (c->readable() && c->write_space()) {
      std::size_t n = c->read({buf, std::min(sizeof buf, c->write_space())});
      c->write({buf, n});
    }
    if (c->eof()) c->close();
  };
  c->on_readable(pump);
  c->on_writable(pump);
}

void discard(TcpConnection::Ptr c) {
  c->on_readable([c] {
    std::uint8_t buf[4096];
    while (c->read(buf)) {
    }
    if (c->eof()) c->close();
  });
}

// RFC 864's pattern: the 95 printable ASCII characters, 72 to a line, each
// line shifted by one, CR LF after each.
class Chargen {
 public:
  explicit Chargen(TcpConnection::Ptr c) : c_(std::move(c)) {}
  void pump() {
    std::uint8_t buf[74 * 32];
    while (c_->write_space() > 0) {
      std::size_t n = std::min(sizeof buf, c_->write_space());
      for (std::size_t i = 0; i < n; ++i) buf[i] = next();
      std::size_t took = c_->write({buf, n});
      // What the stack did not take is produced again next time.
      for (std::size_t i = took; i < n; ++i) back();
      if (took < n) break;
    }
  }

 private:
  std::uint8_t next() {
    std::uint8_t b;
    if (column_ < 72)
      b = static_cast<std::uint8_t>(' ' + (line_ + column_) % 95);
    else
      b = column_ == 72 ? '\r' : '\n';
    if (++column_ == 74) {
      column_ = 0;
      line_ = (line_ + 1) % 95;
    }
    return b;
  }
  void back() {
    if (column_ == 0) {
      column_ = 74;
      line_ = (line_ + 94) % 95;
    }
    --column_;
  }
  TcpConnection::Ptr c_;
  unsigned line_ = 0, column_ = 0;
};

void chargen(TcpConnection::Ptr c) {
  auto gen = std::make_shared<Chargen>(c);
  c->on_writable([gen] { gen->pump(); });
  c->on_readable([c] {
    std::uint8_t buf[512];
    while (c->read(buf)) {
    }
    if (c->eof()) c->close();
  });
  gen->pump();
}

}  // namespace

void Service::start() {
  rz::net::on_configured([] {
    bool ok = rz::net::tcp_listen(7, echo) && rz::net::tcp_listen(9, discard) &&
              rz::net::tcp_listen(19, chargen);
    if (!ok) {
      std::printf("tcp: cannot listen (no network interface?)\n");
      os::shutdown(os::exit_status::failure);
    }
    std::printf("tcp: echo 7, discard 9, chargen 19\n");
  });
}
