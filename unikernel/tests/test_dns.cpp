// DNS (RFC 1035): the codec on golden and malformed bytes, the server end to
// end through the stack over the fake NIC, and the stub resolver with the
// test's clock. Messages are built byte by byte here, independent of the
// codec under test.
#include <string>
#include <string_view>
#include <vector>

#include "net/dns.hpp"
#include "net/dns_resolver.hpp"
#include "net/dns_server.hpp"
#include "net_fixture.hpp"

namespace rz::net::test {
namespace {

// ---- building messages by hand ------------------------------------------------------

// "www.example.test" in wire form (labels, then the root label).
Bytes wire_name(std::string_view dotted) {
  Bytes b;
  while (!dotted.empty()) {
    std::size_t dot = dotted.find('.');
    std::string_view label = dotted.substr(0, dot);
    b.push_back(static_cast<std::uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
  }
  b.push_back(0);
  return b;
}

Bytes header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an = 0,
             std::uint16_t ns = 0, std::uint16_t ar = 0) {
  Bytes b;
  put16(b, id);
  put16(b, flags);
  put16(b, qd);
  put16(b, an);
  put16(b, ns);
  put16(b, ar);
  return b;
}

Bytes& operator+=(Bytes& a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

constexpr std::uint16_t flag_qr = 0x8000;
constexpr std::uint16_t flag_aa = 0x0400;
constexpr std::uint16_t flag_tc = 0x0200;
constexpr std::uint16_t flag_rd = 0x0100;

// A standard query for one name (RD set, as dig sends it).
Bytes query(std::uint16_t id, std::string_view name, std::uint16_t qtype = 1,
            std::uint16_t qclass = 1, std::uint16_t flags = flag_rd) {
  Bytes b = header(id, flags, 1);
  b += wire_name(name);
  put16(b, qtype);
  put16(b, qclass);
  return b;
}

// A resource record with an explicit owner (wire bytes, maybe a pointer).
Bytes record(const Bytes& owner, std::uint16_t type, std::uint16_t klass, std::uint32_t ttl,
             const Bytes& rdata) {
  Bytes b = owner;
  put16(b, type);
  put16(b, klass);
  put32(b, ttl);
  put16(b, static_cast<std::uint16_t>(rdata.size()));
  b += rdata;
  return b;
}

Bytes a_rdata(std::uint32_t address) {
  Bytes b;
  put32(b, address);
  return b;
}

const Bytes to_question{0xc0, 0x0c};  // a pointer to offset 12

// ---- the codec ----------------------------------------------------------------------

TEST_CASE("dns codec: RFC 1035 4.1.1 - header fields parse and emit at their bits") {
  Bytes b = header(0xbeef, 0, 1, 2, 3, 4);
  // QR, OPCODE 2, AA, TC, RD, RA, Z all set, RCODE 5.
  b[2] = 0x80 | 2 << 3 | 0x04 | 0x02 | 0x01;
  b[3] = 0x80 | 0x70 | 5;
  dns::Error why{};
  auto h = dns::Header::parse(b, why);
  REQUIRE(h);
  CHECK(h->id == 0xbeef);
  CHECK(h->qr);
  CHECK(h->opcode == 2);
  CHECK(h->aa);
  CHECK(h->tc);
  CHECK(h->rd);
  CHECK(h->ra);
  CHECK(h->rcode == 5);
  CHECK(h->qdcount == 1);
  CHECK(h->ancount == 2);
  CHECK(h->nscount == 3);
  CHECK(h->arcount == 4);
  Bytes out(12);
  h->emit(std::span<std::uint8_t, 12>(out.data(), 12));
  Bytes expected = b;
  expected[3] &= 0x8f;  // Z is written as zero
  CHECK(out == expected);

  CHECK_FALSE(dns::Header::parse(Bytes(11), why));
  CHECK(why == dns::Error::truncated_header);
}

TEST_CASE("dns codec: names from text: labels of 1..63, 255 bytes at most, host characters") {
  auto n = dns::Name::from_text("www.Example.test");
  REQUIRE(n);
  CHECK(Bytes(n->wire().begin(), n->wire().end()) == wire_name("www.Example.test"));
  CHECK(n->labels() == 3);
  CHECK(n->to_string() == "www.Example.test");
  CHECK(dns::Name::from_text("www.example.test.") == n);  // a trailing dot is the root
  CHECK(dns::Name::from_text("a_b-1.x"));

  CHECK_FALSE(dns::Name::from_text(""));
  CHECK_FALSE(dns::Name::from_text("."));
  CHECK_FALSE(dns::Name::from_text("a..b"));
  CHECK_FALSE(dns::Name::from_text(".a"));
  CHECK_FALSE(dns::Name::from_text("a b"));
  CHECK_FALSE(dns::Name::from_text("a:b"));
  CHECK(dns::Name::from_text(std::string(63, 'x') + ".y"));
  CHECK_FALSE(dns::Name::from_text(std::string(64, 'x') + ".y"));
  // Three labels of 63 and one of 61: 3 * 64 + 62 + 1 = 255 bytes, the most.
  std::string l63(63, 'a');
  std::string longest = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  auto n255 = dns::Name::from_text(longest);
  REQUIRE(n255);
  CHECK(n255->size() == 255);
  CHECK_FALSE(dns::Name::from_text(longest + "b"));
}

TEST_CASE("dns codec: RFC 4343 - names compare case-insensitively, letters only") {
  auto a = dns::Name::from_text("WWW.Example.TEST");
  auto b = dns::Name::from_text("www.example.test");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a == *b);
  CHECK_FALSE(*a == *dns::Name::from_text("www.example.tesu"));
  CHECK_FALSE(*a == *dns::Name::from_text("www.example"));
  // '[' (0x5b) and '{' (0x7b) differ by 0x20 as letters do, but are not letters.
  Bytes m = header(1, 0, 1);
  m += Bytes{1, '[', 0};
  m += Bytes{1, '{', 0};
  dns::Error why{};
  std::size_t off = 12;
  auto x = dns::Name::read(m, off, why);
  auto y = dns::Name::read(m, off, why);
  REQUIRE(x);
  REQUIRE(y);
  CHECK_FALSE(*x == *y);
  CHECK(x->to_string() == "\\091");
}

TEST_CASE("dns codec: RFC 1035 4.1.4 - a name read through a backward pointer") {
  Bytes m = header(1, 0, 1);
  m += wire_name("example.test");            // at 12
  m += Bytes{3, 'w', 'w', 'w', 0xc0, 0x0c};  // at 26: www + pointer
  m.push_back(0xaa);                         // what follows the name
  dns::Error why{};
  std::size_t off = 26;
  auto n = dns::Name::read(m, off, why);
  REQUIRE(n);
  CHECK(n->to_string() == "www.example.test");
  CHECK(off == 32);  // just past the pointer
  CHECK(m[off] == 0xaa);
  // The root name alone.
  Bytes r = header(1, 0, 1);
  r.push_back(0);
  off = 12;
  auto root = dns::Name::read(r, off, why);
  REQUIRE(root);
  CHECK(root->to_string() == ".");
  CHECK(off == 13);
}

struct BadName {
  const char* what;
  Bytes bytes;  // after the 12-byte header
  dns::Error why;
};

TEST_CASE("dns codec: malformed names each fail with their own reason") {
  Bytes too_long;
  for (int i = 0; i < 4; ++i) {
    too_long.push_back(63);
    too_long.insert(too_long.end(), 63, 'a');
  }
  too_long.push_back(0);  // 4 * 64 + 1 = 257 bytes
  std::vector<BadName> cases = {
      {"empty", {}, dns::Error::truncated_name},
      {"no root label", {3, 'w', 'w', 'w'}, dns::Error::truncated_name},
      {"label past the end", {5, 'w', 'w', 0}, dns::Error::truncated_name},
      {"half a pointer", {3, 'w', 'w', 'w', 0xc0}, dns::Error::truncated_name},
      {"length 64", {64, 'a', 0}, dns::Error::bad_label_length},
      {"length 0x80", {0x80, 'a', 0}, dns::Error::bad_label_length},
      {"length 0xbf", {0xbf, 0}, dns::Error::bad_label_length},
      {"over 255 bytes", too_long, dns::Error::name_too_long},
      {"pointer to itself", {0xc0, 0x0c}, dns::Error::pointer_forward},
      {"pointer forward", {0xc0, 0x0e, 0, 0}, dns::Error::pointer_forward},
      {"loop: a label, then back to it", {1, 'a', 0xc0, 0x0c}, dns::Error::pointer_forward},
      {"pointer past the end", {0xff, 0xff}, dns::Error::pointer_forward},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Bytes m = header(1, 0, 1);
    m += c.bytes;
    dns::Error why{};
    std::size_t off = 12;
    CHECK_FALSE(dns::Name::read(m, off, why));
    CHECK(why == c.why);
  }
}

TEST_CASE("dns codec: two pointers into each other are a loop, whichever is read first") {
  // At 12: label "a" then a pointer to 16; at 16: label "b" then a pointer to 12.
  Bytes m = header(1, 0, 1);
  m += Bytes{1, 'a', 0xc0, 16, 1, 'b', 0xc0, 12};
  for (std::size_t start : {12u, 16u}) {
    dns::Error why{};
    std::size_t off = start;
    CHECK_FALSE(dns::Name::read(m, off, why));
    CHECK(why == dns::Error::pointer_forward);
  }
}

TEST_CASE("dns codec: a chain of backward pointers stops at the hop limit") {
  // At 12 the root label; then pointers, each to the one before.
  auto chain = [](std::size_t pointers) {
    Bytes m = header(1, 0, 1);
    m.push_back(0);
    std::size_t prev = 12;
    for (std::size_t i = 0; i < pointers; ++i) {
      std::size_t here = m.size();
      m.push_back(static_cast<std::uint8_t>(0xc0 | prev >> 8));
      m.push_back(static_cast<std::uint8_t>(prev));
      prev = here;
    }
    return std::pair{m, prev};
  };
  dns::Error why{};
  auto [ok_msg, ok_start] = chain(dns::max_pointers);
  std::size_t off = ok_start;
  auto n = dns::Name::read(ok_msg, off, why);
  REQUIRE(n);
  CHECK(n->to_string() == ".");
  CHECK(off == ok_start + 2);
  auto [bad_msg, bad_start] = chain(dns::max_pointers + 1);
  off = bad_start;
  CHECK_FALSE(dns::Name::read(bad_msg, off, why));
  CHECK(why == dns::Error::too_many_pointers);
}

TEST_CASE("dns codec: RFC 1035 4.1.2 - a query: exactly one whole question") {
  dns::Error why{};
  auto q = dns::Query::parse(query(0x1234, "www.example.test", 28, 1), why);
  REQUIRE(q);
  CHECK(q->header.id == 0x1234);
  CHECK(q->header.rd);
  CHECK(q->question.name.to_string() == "www.example.test");
  CHECK(q->question.qtype == 28);
  CHECK(q->question.qclass == 1);

  Bytes none = header(1, 0, 0);
  CHECK_FALSE(dns::Query::parse(none, why));
  CHECK(why == dns::Error::bad_qdcount);
  Bytes two = query(1, "a.test");
  two[5] = 2;
  two += wire_name("b.test");
  two += Bytes{0, 1, 0, 1};
  CHECK_FALSE(dns::Query::parse(two, why));
  CHECK(why == dns::Error::bad_qdcount);
  Bytes short_question = query(1, "a.test");
  short_question.pop_back();
  CHECK_FALSE(dns::Query::parse(short_question, why));
  CHECK(why == dns::Error::truncated_question);
  CHECK_FALSE(dns::Query::parse(header(1, 0, 1), why));
  CHECK(why == dns::Error::truncated_name);
}

TEST_CASE("dns codec: a query emitted, golden bytes") {
  std::array<std::uint8_t, 512> out{};
  dns::Question q{*dns::Name::from_text("ab.c"), dns::type_a, dns::class_in};
  std::size_t n = dns::Query::emit(out, 0x0102, q, true);
  Bytes expected{0x01, 0x02, 0x01, 0x00, 0, 1,   0, 0, 0, 0, 0,
                 0,    2,    'a',  'b',  1, 'c', 0, 0, 1, 0, 1};
  CHECK(Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)) == expected);
  std::array<std::uint8_t, 20> small{};
  CHECK(dns::Query::emit(small, 1, q, true) == 0);
}

TEST_CASE("dns codec: a response written, golden bytes, answers pointing at the question") {
  dns::Error why{};
  auto q = dns::Query::parse(query(0xabcd, "Ab.c", 1, 1), why);
  REQUIRE(q);
  std::array<std::uint8_t, 512> out{};
  dns::ResponseWriter w(out, q->header, &q->question, dns::Rcode::noerror, true);
  CHECK(w.add_a(Ipv4Address{0x0a210032}, 60));
  CHECK(w.add_a(Ipv4Address{0x0a210033}, 60));
  Bytes expected = header(0xabcd, flag_qr | flag_aa | flag_rd, 1, 2);
  expected += wire_name("Ab.c");
  expected += Bytes{0, 1, 0, 1};
  expected += record(to_question, 1, 1, 60, a_rdata(0x0a210032));
  expected += record(to_question, 1, 1, 60, a_rdata(0x0a210033));
  auto m = w.message();
  CHECK(Bytes(m.begin(), m.end()) == expected);

  // FORMERR without a question; opcode copied.
  dns::Header h;
  h.id = 7;
  h.opcode = 2;
  dns::ResponseWriter f(out, h, nullptr, dns::Rcode::formerr, false);
  CHECK_FALSE(f.add_a(Ipv4Address{1}, 1));
  auto fm = f.message();
  CHECK(Bytes(fm.begin(), fm.end()) == header(7, flag_qr | 2 << 11 | 1, 0));
}

TEST_CASE("dns codec: RFC 1035 4.2.1 - a response stays within 512 bytes, TC set") {
  dns::Error why{};
  auto q = dns::Query::parse(query(1, "a.test"), why);
  REQUIRE(q);
  std::array<std::uint8_t, 1500> out{};
  dns::ResponseWriter w(out, q->header, &q->question, dns::Rcode::noerror, true);
  int added = 0;
  while (w.add_a(Ipv4Address{0x0a000000u + std::uint32_t(added)}, 60)) ++added;
  // 12 + 8 + 4 = 24 bytes, then 16 per answer: 30 fit in 512.
  CHECK(added == 30);
  CHECK(w.truncated());
  CHECK(w.message().size() == 24 + 30 * 16);
  auto h = dns::Header::parse(w.message(), why);
  REQUIRE(h);
  CHECK(h->tc);
  CHECK(h->ancount == 30);
}

TEST_CASE("dns codec: a response: A records of the name, CNAME followed, others skipped") {
  Bytes m = header(9, flag_qr | flag_rd | 0x0080, 1, 5);
  m += wire_name("www.example.test");
  m += Bytes{0, 1, 0, 1};
  std::size_t cname_at = m.size();
  m += record(to_question, 5, 1, 300, wire_name("web.example.test"));
  m += record(to_question, 16, 1, 300, Bytes{3, 'a', 'b', 'c'});  // TXT: skipped
  // web.example.test by pointer to the CNAME's RDATA.
  Bytes to_target{0xc0, static_cast<std::uint8_t>(cname_at + 12)};
  m += record(to_target, 28, 1, 300, Bytes(16, 0x20));  // AAAA: skipped
  m += record(to_target, 1, 1, 30, a_rdata(0x0a000101));
  m += record(wire_name("other.test"), 1, 1, 30, a_rdata(0x0a000202));  // not ours
  dns::Error why{};
  auto r = dns::Response::parse(m, why);
  REQUIRE(r);
  CHECK(r->header.id == 9);
  CHECK(r->question.name.to_string() == "www.example.test");
  REQUIRE(r->address_count == 1);
  CHECK(r->addresses[0] == Ipv4Address{0x0a000101});
  CHECK(r->ttl == 30);
}

TEST_CASE("dns codec: malformed responses fail with their own reason") {
  auto base = [] {
    Bytes m = header(9, flag_qr, 1, 1);
    m += wire_name("a.test");
    m += Bytes{0, 1, 0, 1};
    return m;
  };
  dns::Error why{};
  Bytes good = base();
  good += record(to_question, 1, 1, 5, a_rdata(1));
  REQUIRE(dns::Response::parse(good, why));

  Bytes q = good;
  q[2] &= 0x7f;  // QR clear
  CHECK_FALSE(dns::Response::parse(q, why));
  CHECK(why == dns::Error::not_response);

  Bytes cut = good;
  cut.pop_back();
  CHECK_FALSE(dns::Response::parse(cut, why));
  CHECK(why == dns::Error::truncated_record);

  Bytes fixed_cut = base();
  fixed_cut += Bytes{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0};  // 9 of the 10 fixed bytes
  CHECK_FALSE(dns::Response::parse(fixed_cut, why));
  CHECK(why == dns::Error::truncated_record);

  Bytes five = base();
  five += record(to_question, 1, 1, 5, Bytes{1, 2, 3, 4, 5});
  CHECK_FALSE(dns::Response::parse(five, why));
  CHECK(why == dns::Error::bad_rdata);

  Bytes missing = base();
  missing[7] = 2;  // two answers, one there
  missing += record(to_question, 1, 1, 5, a_rdata(1));
  CHECK_FALSE(dns::Response::parse(missing, why));
  CHECK(why == dns::Error::truncated_name);

  Bytes loop = base();
  loop += record(Bytes{0xc0, 0x1c}, 1, 1, 5, a_rdata(1));  // points at itself (offset 28)
  CHECK_FALSE(dns::Response::parse(loop, why));
  CHECK(why == dns::Error::pointer_forward);
}

// ---- the server through the stack -------------------------------------------------

constexpr Ipv4Address www1{0x0a210032};  // 10.33.0.50
constexpr Ipv4Address www2{0x0a210033};  // 10.33.0.51
constexpr Ipv4Address mail{0x0a210034};  // 10.33.0.52
constexpr std::string_view spec =
    "www.example.test:10.33.0.50,www.example.test:10.33.0.51,Mail.Example.Test:10.33.0.52";
constexpr std::uint16_t client_port = 40053;

struct DnsNet {
  Net net;
  DnsServer server;

  DnsNet() : server(records()) {
    REQUIRE(server.start(net.stack.udp()));
    net.learn();
  }
  static std::vector<DnsServer::Record> records() {
    std::string why;
    auto r = DnsServer::parse_spec(spec, why);
    REQUIRE(r);
    return *r;
  }
  // Sends `msg` to port 53; the DNS replies that came back (UDP data).
  std::vector<Bytes> ask(const Bytes& msg, std::uint16_t src_port = client_port) {
    IpFields f;
    f.proto = 17;
    net.inject_ip(f, udp_datagram(src_port, 53, msg));
    std::vector<Bytes> replies;
    for (auto& fr : net.take()) {
      REQUIRE(fr.type == 0x0800);
      REQUIRE(fr.ip_proto() == 17);
      CHECK(fr.ip_src() == our_ip);
      CHECK(fr.ip_dst() == peer_ip);
      auto u = fr.ip_payload();
      CHECK(udp_checksum_ok(u, our_ip, peer_ip));
      CHECK(get16(u, 0) == 53);
      CHECK(get16(u, 2) == src_port);
      CHECK(get16(u, 4) == u.size());
      replies.emplace_back(u.begin() + 8, u.end());
    }
    return replies;
  }
  Bytes ask_one(const Bytes& msg) {
    auto r = ask(msg);
    REQUIRE(r.size() == 1);
    return r[0];
  }
  std::uint64_t counter(std::string_view name) const {
    std::uint64_t value = ~0ull;
    server.for_each_counter([&](std::string_view n, std::uint64_t v) {
      if (n == name) value = v;
    });
    INFO("counter ", std::string(name));
    REQUIRE(value != ~0ull);
    return value;
  }
};

TEST_CASE("dns server: RFC 1035 4.1.1 - an A query is answered with AA, the question, the A") {
  DnsNet d;
  Bytes q = query(0x4242, "www.example.test");
  Bytes r = d.ask_one(query(0x4242, "www.example.test"));
  Bytes expected = header(0x4242, flag_qr | flag_aa | flag_rd, 1, 2);
  expected += Bytes(q.begin() + 12, q.end());
  expected += record(to_question, 1, 1, DnsServer::ttl_s, a_rdata(www1.value));
  expected += record(to_question, 1, 1, DnsServer::ttl_s, a_rdata(www2.value));
  CHECK(r == expected);
  CHECK(d.counter("dns.rx.queries") == 1);
  CHECK(d.counter("dns.tx.answered") == 1);
  CHECK(d.net.counter("udp.tx.datagrams") == 1);
}

TEST_CASE("dns server: RFC 4343 - names match in any case; the question keeps the asker's") {
  DnsNet d;
  Bytes r = d.ask_one(query(1, "mAIL.example.TEST", 1, 1, 0));
  CHECK(get16(r, 2) == (flag_qr | flag_aa));  // RD not asked, not set
  CHECK(get16(r, 6) == 1);
  Bytes name = wire_name("mAIL.example.TEST");
  CHECK(Bytes(r.begin() + 12, r.begin() + 12 + static_cast<std::ptrdiff_t>(name.size())) == name);
  CHECK(get32(r, r.size() - 4) == mail.value);
}

TEST_CASE("dns server: QTYPE * gets the A records; AAAA of a known name is NODATA") {
  DnsNet d;
  Bytes any = d.ask_one(query(2, "www.example.test", 255));
  CHECK((get16(any, 2) & 0xf) == 0);
  CHECK(get16(any, 6) == 2);
  Bytes aaaa = d.ask_one(query(3, "www.example.test", 28));
  CHECK(get16(aaaa, 0) == 3);
  CHECK(get16(aaaa, 2) == (flag_qr | flag_aa | flag_rd));  // NOERROR
  CHECK(get16(aaaa, 4) == 1);
  CHECK(get16(aaaa, 6) == 0);
  CHECK(d.counter("dns.tx.nodata") == 1);
  CHECK(d.counter("dns.tx.answered") == 1);
}

TEST_CASE("dns server: RFC 1035 4.1.1 - an unknown name is NXDOMAIN, authoritative") {
  DnsNet d;
  Bytes q = query(0x0bad, "nope.example.test");
  Bytes r = d.ask_one(q);
  Bytes expected = header(0x0bad, flag_qr | flag_aa | flag_rd | 3, 1);
  expected += Bytes(q.begin() + 12, q.end());
  CHECK(r == expected);
  // A name the configured one ends with is not the same name.
  CHECK((get16(d.ask_one(query(5, "example.test")), 2) & 0xf) == 3);
  CHECK(d.counter("dns.tx.nxdomain") == 2);
}

TEST_CASE("dns server: an EDNS OPT record in the additional section is not an error") {
  DnsNet d;
  Bytes q = query(6, "www.example.test");
  q[11] = 1;  // ARCOUNT 1: OPT (RFC 6891), as dig sends by default
  q += Bytes{0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
  Bytes r = d.ask_one(q);
  CHECK((get16(r, 2) & 0xf) == 0);
  CHECK(get16(r, 6) == 2);
  CHECK(get16(r, 10) == 0);  // no OPT back: we do not do EDNS
}

struct Malformed {
  const char* what;
  Bytes msg;
  std::string_view reason;
};

TEST_CASE("dns server: RFC 1035 4.1.1 - malformed queries get FORMERR with their id") {
  Bytes two = query(0x2002, "www.example.test");
  two[5] = 2;
  Bytes bad_label = header(0x2003, flag_rd, 1);
  bad_label += Bytes{3, 'w', 'w', 'w', 64, 'x', 0, 0, 1, 0, 1};
  Bytes loop = header(0x2004, flag_rd, 1);
  loop += Bytes{0xc0, 0x0c, 0, 1, 0, 1};
  Bytes cut = query(0x2005, "www.example.test");
  cut.resize(cut.size() - 3);
  Bytes cut_name = query(0x2006, "www.example.test");
  cut_name.resize(20);
  std::vector<Malformed> cases = {
      {"QDCOUNT 0", header(0x2001, flag_rd, 0), "dns.rx.formerr.bad_qdcount"},
      {"QDCOUNT 2", two, "dns.rx.formerr.bad_qdcount"},
      {"label length 64", bad_label, "dns.rx.formerr.bad_label_length"},
      {"compression loop", loop, "dns.rx.formerr.pointer_forward"},
      {"truncated QTYPE/QCLASS", cut, "dns.rx.formerr.truncated_question"},
      {"truncated name", cut_name, "dns.rx.formerr.truncated_name"},
  };
  DnsNet d;
  for (const auto& c : cases) {
    INFO(c.what);
    Bytes r = d.ask_one(c.msg);
    // Header only: id, QR, opcode 0, RD copied, RCODE 1, no sections.
    CHECK(r == header(get16(c.msg, 0), flag_qr | flag_rd | 1, 0));
    CHECK(d.counter(c.reason) >= 1);
  }
  CHECK(d.counter("dns.tx.formerr") == cases.size());
  CHECK(d.counter("dns.rx.formerr.bad_qdcount") == 2);
  // And it still answers.
  CHECK(get16(d.ask_one(query(1, "www.example.test")), 6) == 2);
}

TEST_CASE("dns server: short messages and responses are dropped silently, and counted") {
  DnsNet d;
  CHECK(d.ask(Bytes(11, 0)).empty());
  CHECK(d.ask({}).empty());
  CHECK(d.counter("dns.rx.drop.short") == 2);
  CHECK(d.ask(query(7, "www.example.test", 1, 1, flag_qr | flag_aa)).empty());
  CHECK(d.ask(header(8, flag_qr | 1, 0)).empty());  // even a malformed one
  CHECK(d.counter("dns.rx.drop.response") == 2);
  CHECK(d.counter("dns.rx.queries") == 4);
  CHECK(d.net.counter("udp.tx.datagrams") == 0);
}

TEST_CASE("dns server: RFC 1035 4.1.1 - OPCODE other than QUERY is NOTIMP, opcode copied") {
  DnsNet d;
  Bytes q = query(9, "www.example.test", 1, 1, 2 << 11 | flag_rd);  // STATUS
  Bytes r = d.ask_one(q);
  Bytes expected = header(9, flag_qr | 2 << 11 | flag_rd | 4, 1);
  expected += Bytes(q.begin() + 12, q.end());
  CHECK(r == expected);
  // Without a readable question: header only.
  Bytes notify = header(10, 4 << 11, 0);
  CHECK(d.ask_one(notify) == header(10, flag_qr | 4 << 11 | 4, 0));
  CHECK(d.counter("dns.tx.notimp") == 2);
}

TEST_CASE("dns server: a class other than IN is refused") {
  DnsNet d;
  Bytes r = d.ask_one(query(11, "www.example.test", 16, 3));  // CHAOS TXT
  CHECK(get16(r, 2) == (flag_qr | flag_rd | 5));
  CHECK(get16(r, 6) == 0);
  CHECK(d.counter("dns.tx.refused") == 1);
}

TEST_CASE("dns server: RFC 1035 4.2.1 - too many records for 512 bytes: TC, what fits") {
  std::string many;
  for (int i = 0; i < 40; ++i)
    many += (i ? "," : "") + std::string("big.test:10.1.0.") + std::to_string(i + 1);
  std::string why;
  auto records = DnsServer::parse_spec(many, why);
  REQUIRE(records);
  Net net;
  DnsServer server(*records);
  REQUIRE(server.start(net.stack.udp()));
  net.learn();
  IpFields f;
  f.proto = 17;
  net.inject_ip(f, udp_datagram(client_port, 53, query(12, "big.test")));
  auto out = net.take();
  REQUIRE(out.size() == 1);
  auto u = out[0].ip_payload();
  CHECK(u.size() - 8 <= 512);
  CHECK((get16(u, 8 + 2) & flag_tc) != 0);
  CHECK(get16(u, 8 + 6) == (512 - 12 - 14) / 16);
  CHECK(server.stats().truncated == 1);
}

TEST_CASE("dns server: a burst of 1000 queries, each answered once, ids in order") {
  DnsNet d;
  for (std::uint16_t id = 0; id < 1000; ++id) {
    auto r = d.ask(query(id, id % 2 ? "www.example.test" : "nope.test"), 1024 + id);
    REQUIRE(r.size() == 1);
    CHECK(get16(r[0], 0) == id);
  }
  CHECK(d.counter("dns.tx.answered") == 500);
  CHECK(d.counter("dns.tx.nxdomain") == 500);
  CHECK(d.net.stack.nic().pool().available() == d.net.stack.nic().pool().capacity());
}

TEST_CASE("dns server: the configuration: name:address pairs, checked") {
  std::string why;
  auto r =
      DnsServer::parse_spec("a.test:1.2.3.4,a.test:1.2.3.5,b.test.:5.6.7.8,a.test:1.2.3.4", why);
  REQUIRE(r);
  CHECK(r->size() == 3);  // the repeated one counts once
  CHECK((*r)[2].name.to_string() == "b.test");
  CHECK((*r)[2].address == Ipv4Address{0x05060708});
  for (std::string_view bad :
       {"", ",", "a.test", "a.test:1.2.3", "a.test:1.2.3.4,", ":1.2.3.4", "a..test:1.2.3.4",
        "a.test:1.2.3.4:5", "a test:1.2.3.4", "a.test:256.1.1.1"}) {
    INFO(std::string(bad));
    why.clear();
    CHECK_FALSE(DnsServer::parse_spec(bad, why));
    CHECK_FALSE(why.empty());
  }
  std::string too_many;
  for (std::size_t i = 0; i <= DnsServer::max_records; ++i)
    too_many += (i ? "," : "") + std::string("a.test:10.0.") + std::to_string(i / 200) + "." +
                std::to_string(i % 200 + 1);
  CHECK_FALSE(DnsServer::parse_spec(too_many, why));
}

std::vector<std::string> logged;

TEST_CASE("dns server: start_dns_server logs one line, and refuses bad specs and a taken port") {
  logged.clear();
  set_log_sink([](std::string_view line) { logged.emplace_back(line); });
  Net net;
  CHECK_FALSE(start_dns_server(net.stack.udp(), "www.test:1.2.3"));
  REQUIRE(logged.size() == 1);
  CHECK(logged[0].find("1.2.3") != std::string::npos);
  CHECK(dns_server() == nullptr);

  REQUIRE(start_dns_server(net.stack.udp(), spec));
  CHECK(logged.back() == "dns: serving 3 records on port 53");
  REQUIRE(dns_server() != nullptr);
  CHECK_FALSE(start_dns_server(net.stack.udp(), spec));  // one at a time
  net.learn();
  IpFields f;
  f.proto = 17;
  net.inject_ip(f, udp_datagram(client_port, 53, query(1, "www.example.test")));
  CHECK(net.take().size() == 1);
  CHECK(dns_server()->stats().answered == 1);
  stop_dns_server();
  CHECK(dns_server() == nullptr);

  // The port is taken by someone else.
  REQUIRE(net.stack.udp_bind(53));
  logged.clear();
  CHECK_FALSE(start_dns_server(net.stack.udp(), spec));
  REQUIRE(logged.size() == 1);
  CHECK(logged[0] == "dns: UDP port 53 is taken");
  set_log_sink(nullptr);
}

// ---- the resolver ------------------------------------------------------------------

// A resolver on our stack asking the peer (10.0.0.5) as its server.
struct ResolverNet {
  Net net;
  DnsResolver resolver;
  std::vector<DnsResolver::Result> results;

  ResolverNet()
      : resolver(net.stack.udp(), peer_ip,
                 [this](std::uint64_t n) { return net.stack.random(n); }) {
    net.learn();
  }
  DnsResolver::Callback record() {
    return [this](const DnsResolver::Result& r) { results.push_back(r); };
  }
  struct Sent {
    std::uint16_t src_port, id;
    Bytes msg;
  };
  // The queries sent since the last call.
  std::vector<Sent> sent() {
    std::vector<Sent> out;
    for (auto& f : net.take()) {
      REQUIRE(f.ip_proto() == 17);
      CHECK(f.ip_dst() == peer_ip);
      auto u = f.ip_payload();
      CHECK(udp_checksum_ok(u, our_ip, peer_ip));
      CHECK(get16(u, 2) == 53);
      out.push_back({get16(u, 0), get16(u, 8), Bytes(u.begin() + 8, u.end())});
    }
    return out;
  }
  void reply(const Bytes& msg, std::uint16_t dst_port, std::uint16_t src_port = 53,
             Ipv4Address src = peer_ip) {
    IpFields f;
    f.proto = 17;
    f.src = src;
    net.inject_ip(f, udp_datagram(src_port, dst_port, msg, src, our_ip));
  }
};

Bytes answer(std::uint16_t id, std::string_view name, std::uint16_t rcode,
             std::vector<std::uint32_t> addresses) {
  Bytes m = header(id, static_cast<std::uint16_t>(flag_qr | flag_rd | 0x0080 | rcode), 1,
                   static_cast<std::uint16_t>(addresses.size()));
  m += wire_name(name);
  m += Bytes{0, 1, 0, 1};
  for (auto a : addresses) m += record(to_question, 1, 1, 60, a_rdata(a));
  return m;
}

TEST_CASE("dns resolver: a query goes out; the answer's first address comes back") {
  ResolverNet r;
  CHECK_FALSE(r.resolver.resolve("www.example.test", r.net.now, r.record()));
  auto s = r.sent();
  REQUIRE(s.size() == 1);
  CHECK(s[0].src_port == r.resolver.port());
  CHECK(s[0].src_port >= udp::ephemeral_first);
  CHECK(s[0].msg == query(s[0].id, "www.example.test"));
  CHECK(r.results.empty());
  CHECK(r.resolver.next_deadline() == r.net.now + 1000);
  r.reply(answer(s[0].id, "WWW.example.test", 0, {0x0a210032, 0x0a210033}), s[0].src_port);
  REQUIRE(r.results.size() == 1);
  REQUIRE(std::holds_alternative<Ipv4Address>(r.results[0]));
  CHECK(std::get<Ipv4Address>(r.results[0]) == Ipv4Address{0x0a210032});
  CHECK(r.resolver.outstanding() == 0);
  CHECK(r.resolver.next_deadline() == ~0ull);
  // A second copy of the answer finds nothing to answer.
  r.reply(answer(s[0].id, "www.example.test", 0, {0x0a210032}), s[0].src_port);
  CHECK(r.results.size() == 1);
  CHECK(r.resolver.stats().drop_unknown_id == 1);
}

TEST_CASE("dns resolver: NXDOMAIN, NODATA and SERVFAIL are told apart") {
  ResolverNet r;
  REQUIRE_FALSE(r.resolver.resolve("a.test", r.net.now, r.record()));
  REQUIRE_FALSE(r.resolver.resolve("b.test", r.net.now, r.record()));
  REQUIRE_FALSE(r.resolver.resolve("c.test", r.net.now, r.record()));
  auto s = r.sent();
  REQUIRE(s.size() == 3);
  // Ids differ among outstanding queries; one port for all.
  CHECK(s[0].id != s[1].id);
  CHECK(s[1].id != s[2].id);
  CHECK(s[0].id != s[2].id);
  CHECK(s[0].src_port == s[2].src_port);
  r.reply(answer(s[0].id, "a.test", 3, {}), s[0].src_port);
  r.reply(answer(s[1].id, "b.test", 0, {}), s[1].src_port);
  r.reply(answer(s[2].id, "c.test", 2, {}), s[2].src_port);
  REQUIRE(r.results.size() == 3);
  CHECK(std::get<DnsResolver::Error>(r.results[0]) == DnsResolver::Error::nxdomain);
  CHECK(std::get<DnsResolver::Error>(r.results[1]) == DnsResolver::Error::no_data);
  CHECK(std::get<DnsResolver::Error>(r.results[2]) == DnsResolver::Error::server_error);
}

TEST_CASE("dns resolver: retransmission after 1 s, then 2 s, then a timeout 4 s later") {
  ResolverNet r;
  std::uint64_t t0 = r.net.now;
  REQUIRE_FALSE(r.resolver.resolve("slow.test", t0, r.record()));
  auto first = r.sent();
  REQUIRE(first.size() == 1);
  r.resolver.tick(t0 + 999);
  CHECK(r.sent().empty());
  r.resolver.tick(t0 + 1000);
  auto second = r.sent();
  REQUIRE(second.size() == 1);
  CHECK(second[0].msg == first[0].msg);  // same id, same question
  CHECK(r.resolver.next_deadline() == t0 + 3000);
  r.resolver.tick(t0 + 2999);
  CHECK(r.sent().empty());
  r.resolver.tick(t0 + 3000);
  CHECK(r.sent().size() == 1);
  CHECK(r.resolver.next_deadline() == t0 + 7000);
  r.resolver.tick(t0 + 6999);
  CHECK(r.results.empty());
  r.resolver.tick(t0 + 7000);
  CHECK(r.sent().empty());  // no fourth try
  REQUIRE(r.results.size() == 1);
  CHECK(std::get<DnsResolver::Error>(r.results[0]) == DnsResolver::Error::timeout);
  CHECK(r.resolver.stats().retransmits == 2);
  CHECK(r.resolver.stats().timeouts == 1);
  CHECK(r.resolver.next_deadline() == ~0ull);
}

TEST_CASE("dns resolver: RFC 5452 9.1 - replies from elsewhere, or not matching, are ignored") {
  ResolverNet r;
  REQUIRE_FALSE(r.resolver.resolve("www.example.test", r.net.now, r.record()));
  auto s = r.sent();
  REQUIRE(s.size() == 1);
  std::uint16_t id = s[0].id, port = s[0].src_port;
  r.reply(answer(id, "www.example.test", 0, {1}), port, 5353);       // wrong source port
  r.reply(answer(id, "www.example.test", 0, {2}), port, 53, gw_ip);  // wrong server
  r.reply(answer(static_cast<std::uint16_t>(id + 1), "www.example.test", 0, {3}), port);
  r.reply(answer(id, "www.example.tes", 0, {4}), port);  // another question
  Bytes aaaa = answer(id, "www.example.test", 0, {});
  aaaa[12 + 18 + 1] = 28;  // QTYPE AAAA
  r.reply(aaaa, port);
  Bytes as_query = answer(id, "www.example.test", 0, {5});
  as_query[2] &= 0x7f;  // QR clear
  r.reply(as_query, port);
  Bytes broken = answer(id, "www.example.test", 0, {6});
  broken.pop_back();
  r.reply(broken, port);
  CHECK(r.results.empty());
  auto& st = r.resolver.stats();
  CHECK(st.drop_wrong_source == 2);
  CHECK(st.drop_unknown_id == 1);
  CHECK(st.drop_wrong_question == 2);
  CHECK(st.drop_malformed == 2);
  r.reply(answer(id, "www.example.test", 0, {7}), port);
  REQUIRE(r.results.size() == 1);
  CHECK(std::get<Ipv4Address>(r.results[0]) == Ipv4Address{7});
}

TEST_CASE("dns resolver: refusals: a bad name, too many outstanding") {
  ResolverNet r;
  CHECK(r.resolver.resolve("bad..name", r.net.now, r.record()) == DnsResolver::Error::bad_name);
  for (std::size_t i = 0; i < DnsResolver::max_outstanding; ++i)
    CHECK_FALSE(r.resolver.resolve("n" + std::to_string(i) + ".test", r.net.now, r.record()));
  CHECK(r.resolver.resolve("one.more.test", r.net.now, r.record()) == DnsResolver::Error::busy);
  CHECK(r.sent().size() == DnsResolver::max_outstanding);
  CHECK(r.results.empty());
}

TEST_CASE("dns resolver: a callback may resolve again") {
  ResolverNet r;
  bool second_sent = false;
  REQUIRE_FALSE(r.resolver.resolve("a.test", r.net.now, [&](const DnsResolver::Result&) {
    second_sent = !r.resolver.resolve("b.test", r.net.now, r.record());
  }));
  auto s = r.sent();
  REQUIRE(s.size() == 1);
  r.reply(answer(s[0].id, "a.test", 0, {1}), s[0].src_port);
  CHECK(second_sent);
  CHECK(r.resolver.outstanding() == 1);
  auto s2 = r.sent();
  REQUIRE(s2.size() == 1);
  CHECK(s2[0].msg == query(s2[0].id, "b.test"));
}

// ---- the resolver against the server ----------------------------------------------

TEST_CASE("dns resolver and server: the server's answers parse as the resolver reads them") {
  DnsNet d;
  for (auto [name, rcode, count] :
       {std::tuple{"www.example.test", 0, 2}, std::tuple{"nope.test", 3, 0}}) {
    Bytes reply = d.ask_one(query(77, name));
    dns::Error why{};
    auto r = dns::Response::parse(reply, why);
    REQUIRE(r);
    CHECK(r->header.id == 77);
    CHECK(r->header.rcode == rcode);
    CHECK(r->address_count == std::size_t(count));
    if (count) {
      CHECK(r->addresses[0] == www1);
      CHECK(r->addresses[1] == www2);
      CHECK(r->ttl == DnsServer::ttl_s);
    }
  }
}

}  // namespace
}  // namespace rz::net::test
