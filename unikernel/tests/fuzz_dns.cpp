// libFuzzer target: arbitrary bytes as a DNS message, through the codec
// (dns.hpp) and the server's answer() (dns_server.hpp).
//
// Checked for every input:
//   - the parsers never read out of bounds (ASan) and agree with each other
//     (a Query parses only when its Header does);
//   - every name read is at most 255 bytes and compares equal to itself;
//   - the server's answer, when there is one, is at most 512 bytes, echoes
//     the id, has QR set, and parses back as a header -- and, when it holds
//     a question, as a Response whose question is the query's.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "net/dns.hpp"
#include "net/dns_server.hpp"

namespace {

using namespace rz::net;

void check(bool ok, const char* what) {
  if (!ok) {
    __builtin_printf("invariant broken: %s\n", what);
    std::abort();
  }
}

DnsServer& server() {
  static DnsServer* s = [] {
    std::string why;
    auto records = DnsServer::parse_spec(
        "www.example.test:10.0.0.1,www.example.test:10.0.0.2,a.b:1.2.3.4", why);
    check(records.has_value(), "the fuzzer's configuration parses");
    return new DnsServer(*records);
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> msg(data, size);
  dns::Error why{};
  auto header = dns::Header::parse(msg, why);
  auto query = dns::Query::parse(msg, why);
  check(!query || header, "a query has a header");
  auto response = dns::Response::parse(msg, why);
  check(!response || response->address_count <= dns::Response::max_addresses, "addresses kept");

  // A name at every offset.
  for (std::size_t at = 0; at < size; ++at) {
    std::size_t offset = at;
    auto name = dns::Name::read(msg, offset, why);
    if (!name) continue;
    check(name->size() >= 1 && name->size() <= dns::max_name, "name size");
    check(offset > at && offset <= size, "offset moves forward, within the message");
    check(*name == *name, "a name equals itself");
    check(!name->to_string().empty(), "a name prints");
  }

  std::array<std::uint8_t, 1500> out{};
  std::size_t n = server().answer(msg, out);
  if (n == 0) return 0;
  check(header && !header->qr, "only queries get an answer");
  check(n <= dns::max_udp_message, "answers fit in 512 bytes");
  auto reply = std::span<const std::uint8_t>(out).first(n);
  auto h = dns::Header::parse(reply, why);
  check(h && h->id == header->id && h->qr, "the answer's header");
  if (h->qdcount == 1) {
    auto r = dns::Response::parse(reply, why);
    check(r.has_value(), "the answer parses as a response");
    check(query && r->question.name == query->question.name, "the question echoed");
    check(r->address_count == h->ancount, "every answer is an A for the question");
  }
  return 0;
}
