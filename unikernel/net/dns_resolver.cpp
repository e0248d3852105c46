// The stub resolver (see dns_resolver.hpp).
#include "net/dns_resolver.hpp"

#include <algorithm>

namespace rz::net {

const char* DnsResolver::to_string(Error e) {
  switch (e) {
    case Error::bad_name:
      return "bad_name";
    case Error::busy:
      return "busy";
    case Error::no_socket:
      return "no_socket";
    case Error::unreachable:
      return "unreachable";
    case Error::nxdomain:
      return "nxdomain";
    case Error::no_data:
      return "no_data";
    case Error::server_error:
      return "server_error";
    case Error::truncated:
      return "truncated";
    case Error::timeout:
      return "timeout";
  }
  return "?";
}

DnsResolver::DnsResolver(Udp& udp, Ipv4Address server, Random random)
    : udp_(udp), server_(server), random_(std::move(random)) {}

DnsResolver::~DnsResolver() {
  if (socket_) socket_->close();
}

std::optional<DnsResolver::Error> DnsResolver::resolve(std::string_view name, std::uint64_t now_ms,
                                                       Callback done) {
  auto qname = dns::Name::from_text(name);
  if (!qname) return Error::bad_name;
  auto slot = std::find_if(pending_.begin(), pending_.end(), [](auto& p) { return !p.used; });
  if (slot == pending_.end()) return Error::busy;
  if (!socket_) {
    // One ephemeral port for every query, bound at the first.
    socket_ = udp_.bind(0);
    if (!socket_) return Error::no_socket;
    socket_->on_receive([this](const UdpDatagram& d) { input(d); });
  }
  Pending& p = *slot;
  p.used = true;
  p.id = new_id();
  p.question = dns::Question{*qname, dns::type_a, dns::class_in};
  p.tries = 0;
  p.timeout_ms = first_timeout_ms;
  p.done = std::move(done);
  if (!send(p, now_ms)) {
    p = Pending{};
    return Error::unreachable;
  }
  ++stats_.queries;
  return std::nullopt;
}

std::uint16_t DnsResolver::new_id() {
  // RFC 5452 9.2: unpredictable ids; and none shared by two queries at once,
  // so that a reply matches one query only.
  while (true) {
    auto id = static_cast<std::uint16_t>(random_(0x10000));
    bool taken = std::any_of(pending_.begin(), pending_.end(),
                             [id](auto& p) { return p.used && p.id == id; });
    if (!taken) return id;
  }
}

bool DnsResolver::send(Pending& p, std::uint64_t now_ms) {
  ++p.tries;
  p.deadline = now_ms + p.timeout_ms;
  std::array<std::uint8_t, dns::max_udp_message> buffer;
  // RD set: the server may be a recursive one (RFC 1123 6.1.3.2).
  std::size_t n = dns::Query::emit(buffer, p.id, p.question, true);
  SendResult r = socket_->send_to(server_, dns::port, std::span(buffer).first(n), now_ms);
  if (after_send_) after_send_();
  if (!ok(r)) {
    ++stats_.tx_failed;
    return false;
  }
  return true;
}

void DnsResolver::finish(Pending& p, const Result& r) {
  // Free the slot first: the callback may resolve again.
  Callback done = std::move(p.done);
  p = Pending{};
  if (std::holds_alternative<Ipv4Address>(r))
    ++stats_.answers;
  else
    ++stats_.failures;
  if (done) done(r);
}

void DnsResolver::tick(std::uint64_t now_ms) {
  for (auto& p : pending_) {
    if (!p.used || now_ms < p.deadline) continue;
    if (p.tries >= max_tries) {
      ++stats_.timeouts;
      finish(p, Error::timeout);
      continue;
    }
    // RFC 1536 1: back off exponentially.
    p.timeout_ms *= 2;
    ++stats_.retransmits;
    send(p, now_ms);  // a failed try waits out its timeout like a lost one
  }
}

std::uint64_t DnsResolver::next_deadline() const {
  std::uint64_t t = ~0ull;
  for (const auto& p : pending_)
    if (p.used) t = std::min(t, p.deadline);
  return t;
}

std::size_t DnsResolver::outstanding() const {
  return static_cast<std::size_t>(
      std::count_if(pending_.begin(), pending_.end(), [](auto& p) { return p.used; }));
}

void DnsResolver::input(const UdpDatagram& d) {
  // RFC 5452 9.1: from the address and port the query went to.
  if (d.src != server_ || d.src_port != dns::port) {
    ++stats_.drop_wrong_source;
    return;
  }
  dns::Error why{};
  auto r = dns::Response::parse(d.data, why);
  if (!r) {
    ++stats_.drop_malformed;
    return;
  }
  auto p = std::find_if(pending_.begin(), pending_.end(),
                        [&](auto& q) { return q.used && q.id == r->header.id; });
  if (p == pending_.end()) {
    ++stats_.drop_unknown_id;
    return;
  }
  if (!(r->question.name == p->question.name) || r->question.qtype != p->question.qtype ||
      r->question.qclass != p->question.qclass) {
    ++stats_.drop_wrong_question;
    return;
  }
  auto rcode = static_cast<dns::Rcode>(r->header.rcode);
  if (rcode == dns::Rcode::nxdomain) {
    finish(*p, Error::nxdomain);
  } else if (rcode != dns::Rcode::noerror) {
    finish(*p, Error::server_error);
  } else if (r->address_count > 0) {
    finish(*p, r->addresses[0]);
  } else if (r->header.tc) {
    finish(*p, Error::truncated);
  } else {
    finish(*p, Error::no_data);
  }
}

}  // namespace rz::net
