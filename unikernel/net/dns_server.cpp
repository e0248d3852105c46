// The DNS server (see dns_server.hpp).
#include "net/dns_server.hpp"

#include <memory>

#include "net/stack_core.hpp"

namespace rz::net {

std::optional<std::vector<DnsServer::Record>> DnsServer::parse_spec(std::string_view spec,
                                                                    std::string& why) {
  std::vector<Record> records;
  if (spec.empty()) {
    why = "no records";
    return std::nullopt;
  }
  while (true) {
    std::size_t comma = spec.find(',');
    std::string_view entry = spec.substr(0, comma);
    std::size_t colon = entry.find(':');
    if (colon == std::string_view::npos || entry.find(':', colon + 1) != std::string_view::npos) {
      why = "\"" + std::string(entry) + "\" is not name:a.b.c.d";
      return std::nullopt;
    }
    auto name = dns::Name::from_text(entry.substr(0, colon));
    if (!name) {
      why = "\"" + std::string(entry.substr(0, colon)) + "\" is not a host name";
      return std::nullopt;
    }
    auto address = Ipv4Address::parse(entry.substr(colon + 1));
    if (!address) {
      why = "\"" + std::string(entry.substr(colon + 1)) + "\" is not an IPv4 address";
      return std::nullopt;
    }
    // A record given twice is one record (RFC 2181 5: no duplicates in a set).
    bool seen = false;
    for (const auto& r : records) seen = seen || (r.name == *name && r.address == *address);
    if (!seen) {
      if (records.size() == max_records) {
        why = "more than " + std::to_string(max_records) + " records";
        return std::nullopt;
      }
      records.push_back({*name, *address});
    }
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return records;
}

DnsServer::DnsServer(std::vector<Record> records) : records_(std::move(records)) {}

DnsServer::~DnsServer() {
  if (socket_) socket_->close();
}

bool DnsServer::start(Udp& udp) {
  if (socket_) return false;
  socket_ = udp.bind(dns::port);
  if (!socket_) return false;
  socket_->on_receive([this](const UdpDatagram& d) { input(d); });
  return true;
}

void DnsServer::input(const UdpDatagram& d) {
  std::size_t n = answer(d.data, reply_);
  if (n == 0) return;
  if (!ok(socket_->send_to(d.src, d.src_port, std::span(reply_).first(n), d.now_ms)))
    ++stats_.tx_failed;
}

std::size_t DnsServer::answer(std::span<const std::uint8_t> query, std::span<std::uint8_t> out) {
  ++stats_.queries;
  dns::Error why{};
  auto header = dns::Header::parse(query, why);
  if (!header) {
    ++stats_.dropped_short;  // no id to answer with
    return 0;
  }
  if (header->qr) {
    ++stats_.dropped_response;  // never answer an answer (no loops between servers)
    return 0;
  }
  auto finish = [&](const dns::ResponseWriter& w) {
    if (w.truncated()) ++stats_.truncated;
    return w.message().size();
  };
  auto query_ok = dns::Query::parse(query, why);
  // 4.1.1 OPCODE: only QUERY (0) is done; the question is echoed when it
  // could be read.
  if (header->opcode != dns::opcode_query) {
    ++stats_.notimp;
    const dns::Question* q = query_ok ? &query_ok->question : nullptr;
    return finish(dns::ResponseWriter(out, *header, q, dns::Rcode::notimp, false));
  }
  if (!query_ok) {
    ++stats_.formerr;
    ++stats_.malformed[static_cast<std::size_t>(why)];
    return finish(dns::ResponseWriter(out, *header, nullptr, dns::Rcode::formerr, false));
  }
  const dns::Question& q = query_ok->question;
  // 3.2.4/3.2.5: only the Internet class is served.
  if (q.qclass != dns::class_in && q.qclass != dns::class_any) {
    ++stats_.refused;
    return finish(dns::ResponseWriter(out, *header, &q, dns::Rcode::refused, false));
  }
  bool known = false;
  for (const auto& r : records_) known = known || r.name == q.name;
  if (!known) {
    ++stats_.nxdomain;
    return finish(dns::ResponseWriter(out, *header, &q, dns::Rcode::nxdomain, true));
  }
  dns::ResponseWriter w(out, *header, &q, dns::Rcode::noerror, true);
  if (q.qtype == dns::type_a || q.qtype == dns::type_any) {
    for (const auto& r : records_)
      if (r.name == q.name && !w.add_a(r.address, ttl_s)) break;
  }
  if (w.answers() > 0)
    ++stats_.answered;
  else
    ++stats_.nodata;  // RFC 2308 2.2: the name exists, not with this type
  return finish(w);
}

void DnsServer::for_each_counter(
    const std::function<void(std::string_view name, std::uint64_t value)>& f) const {
  f("dns.rx.queries", stats_.queries);
  f("dns.rx.drop.short", stats_.dropped_short);
  f("dns.rx.drop.response", stats_.dropped_response);
  for (std::size_t i = 0; i < dns::error_count; ++i) {
    std::string name = "dns.rx.formerr.";
    name += dns::to_string(static_cast<dns::Error>(i));
    f(name, stats_.malformed[i]);
  }
  f("dns.tx.answered", stats_.answered);
  f("dns.tx.nodata", stats_.nodata);
  f("dns.tx.nxdomain", stats_.nxdomain);
  f("dns.tx.formerr", stats_.formerr);
  f("dns.tx.notimp", stats_.notimp);
  f("dns.tx.refused", stats_.refused);
  f("dns.tx.truncated", stats_.truncated);
  f("dns.tx.failed", stats_.tx_failed);
}

namespace {

std::unique_ptr<DnsServer> the_server;

}  // namespace

bool start_dns_server(Udp& udp, std::string_view spec) {
  if (the_server) {
    log_line("dns: a server runs already");
    return false;
  }
  std::string why;
  auto records = DnsServer::parse_spec(spec, why);
  if (!records) {
    log_line("dns: bad configuration: " + why);
    return false;
  }
  auto server = std::make_unique<DnsServer>(std::move(*records));
  if (!server->start(udp)) {
    log_line("dns: UDP port 53 is taken");
    return false;
  }
  the_server = std::move(server);
  log_line("dns: serving " + std::to_string(the_server->records().size()) + " records on port 53");
  return true;
}

DnsServer* dns_server() {
  return the_server.get();
}

void stop_dns_server() {
  the_server.reset();
}

}  // namespace rz::net
