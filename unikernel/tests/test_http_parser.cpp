// The HTTP/1.1 request parser (RFC 9112): every input is fed whole, one
// octet at a time and in seeded random pieces, and all three must agree;
// then the request line, versions, field lines, the limits at exactly the
// limit and one over, Content-Length, chunked, Transfer-Encoding, Connection,
// empty lines, pipelining, bare CR and bare LF.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_parser.hpp"

namespace rz::net::http {
namespace {

using Status = RequestParser::Status;

struct Result {
  Status status = Status::need_more;
  Error error = Error::none;
  std::size_t consumed = 0;  // the sum of what feed() returned
  Request request;
  bool started = false, header_done = false;
};

// Feeds `in` in pieces of next_size() octets until the parser is no longer
// waiting, checking what feed() returns for each piece.
template <typename F>
Result feed_pieces(std::string_view in, const Limits& limits, F next_size) {
  RequestParser p(limits);
  Result r;
  std::size_t off = 0;
  while (off < in.size() && p.status() == Status::need_more) {
    std::size_t n = std::min<std::size_t>(std::max<std::size_t>(next_size(), 1), in.size() - off);
    std::size_t used = p.feed(in.substr(off, n));
    CHECK(used <= n);
    if (p.status() == Status::need_more) CHECK(used == n);
    if (p.status() == Status::error) CHECK(used == 0);
    r.consumed += used;
    off += n;
  }
  // Finished: nothing more is taken.
  if (p.status() != Status::need_more) CHECK(p.feed("GET / HTTP/1.1\r\n") == 0);
  r.status = p.status();
  r.error = p.error();
  r.request = p.request();
  r.started = p.started();
  r.header_done = p.header_done();
  return r;
}

void check_same(const Result& a, const Result& b) {
  CHECK(a.status == b.status);
  CHECK(error_name(a.error) == error_name(b.error));
  if (a.status != Status::complete || b.status != Status::complete) return;
  CHECK(a.consumed == b.consumed);
  CHECK(a.request.method_text == b.request.method_text);
  CHECK(a.request.method == b.request.method);
  CHECK(a.request.target == b.request.target);
  CHECK(a.request.version_minor == b.request.version_minor);
  CHECK(a.request.fields == b.request.fields);
  CHECK(a.request.body == b.request.body);
  CHECK(a.request.chunked == b.request.chunked);
  CHECK(a.request.keep_alive == b.request.keep_alive);
}

// Parses `in` whole, octet by octet and in random pieces (same result every
// way); returns the result of the whole feed.
Result parse(std::string_view in, const Limits& limits = {}) {
  INFO("input: ", std::string(in.substr(0, 200)));
  Result whole = feed_pieces(in, limits, [&] { return in.size(); });
  if (whole.status == Status::complete) CHECK(whole.consumed <= in.size());
  check_same(whole, feed_pieces(in, limits, [] { return 1; }));
  std::mt19937 rng(std::uint32_t(in.size()) * 2654435761u);
  for (int round = 0; round < 8; ++round) {
    std::size_t most = std::size_t(1) << (round % 4 * 3);  // 1, 8, 64, 512
    std::uniform_int_distribution<std::size_t> size(1, most);
    check_same(whole, feed_pieces(in, limits, [&] { return size(rng); }));
  }
  return whole;
}

// The status a server answers with: 200 for a complete request, the
// error's status, or 0 while more is needed.
int answer(std::string_view in, const Limits& limits = {}) {
  auto r = parse(in, limits);
  if (r.status == Status::need_more) return 0;
  return r.status == Status::complete ? 200 : status_for(r.error);
}

Error error_of(std::string_view in, const Limits& limits = {}) {
  return parse(in, limits).error;
}

std::string get(std::string_view target = "/", std::string_view extra = "",
                std::string_view version = "HTTP/1.1") {
  return "GET " + std::string(target) + " " + std::string(version) + "\r\nHost: example\r\n" +
         std::string(extra) + "\r\n";
}

std::string post(std::string_view fields, std::string_view body) {
  return "POST /echo HTTP/1.1\r\nHost: example\r\n" + std::string(fields) + "\r\n" +
         std::string(body);
}

}  // namespace

TEST_CASE("http parser: a GET fed whole, octet by octet and in pieces") {
  std::string in =
      "GET /index.html?q=1 HTTP/1.1\r\nHost: example.org\r\nUser-Agent:  test/1.0 \t\r\n"
      "X-Empty:\r\nACCEPT: */*\r\n\r\n";
  auto r = parse(in);
  REQUIRE(r.status == Status::complete);
  CHECK(r.consumed == in.size());
  CHECK(r.started);
  CHECK(r.header_done);
  const Request& q = r.request;
  CHECK(q.method == Method::get);
  CHECK(q.method_text == "GET");
  CHECK(q.target == "/index.html?q=1");
  CHECK(q.version_minor == 1);
  CHECK(q.keep_alive);
  CHECK_FALSE(q.chunked);
  CHECK(q.body.empty());
  using Fields = std::vector<std::pair<std::string, std::string>>;
  CHECK(q.fields == Fields{{"host", "example.org"},
                           {"user-agent", "test/1.0"},
                           {"x-empty", ""},
                           {"accept", "*/*"}});
  REQUIRE(q.field("accept"));
  CHECK(*q.field("accept") == "*/*");
  CHECK(q.field("Accept") == nullptr);  // names are looked up lowercased
  CHECK(q.count("host") == 1);
  CHECK(q.count("nothing") == 0);
}

TEST_CASE("http parser: an incomplete request waits, started and header_done follow it") {
  RequestParser p(Limits{});
  CHECK_FALSE(p.started());
  CHECK(p.feed("\r\n") == 2);  // an empty line before the request is not its start
  CHECK_FALSE(p.started());
  CHECK(p.feed("G") == 1);
  CHECK(p.started());
  CHECK_FALSE(p.header_done());
  CHECK(p.feed("ET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab") == 47);
  CHECK(p.status() == Status::need_more);
  CHECK(p.header_done());
  CHECK(p.feed("cdEXTRA") == 2);
  CHECK(p.status() == Status::complete);
  CHECK(p.request().body == "abcd");
  p.reset();
  CHECK(p.status() == Status::need_more);
  CHECK_FALSE(p.started());
  CHECK_FALSE(p.header_done());
  CHECK(p.request().fields.empty());
  CHECK(p.feed("EXTRA") == 5);
  CHECK(p.started());
}

TEST_CASE("http parser: request line forms and methods") {
  CHECK(parse(get("/")).request.target == "/");
  CHECK(parse(get("/a/b/c?x=1&y=%20")).request.target == "/a/b/c?x=1&y=%20");
  CHECK(parse(get("http://example/p?q")).request.target == "http://example/p?q");  // absolute
  auto star = parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(star.status == Status::complete);
  CHECK(star.request.method == Method::options);
  CHECK(star.request.target == "*");
  auto connect = parse("CONNECT example:443 HTTP/1.1\r\nHost: example:443\r\n\r\n");
  REQUIRE(connect.status == Status::complete);
  CHECK(connect.request.method == Method::other);  // known to the parser, not to the server
  CHECK(connect.request.target == "example:443");

  for (auto m : {Method::get, Method::head, Method::post, Method::put, Method::del, Method::options,
                 Method::patch}) {
    CAPTURE(method_name(m));
    CHECK(method_from(method_name(m)) == m);
    auto r = parse(std::string(method_name(m)) + " / HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(r.status == Status::complete);
    CHECK(r.request.method == m);
  }
  CHECK(method_from("get") == Method::other);  // methods are case-sensitive (RFC 9110 9.1)
  auto brew = parse("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(brew.status == Status::complete);
  CHECK(brew.request.method == Method::other);
  CHECK(brew.request.method_text == "BREW");
  CHECK(parse("M-SEARCH! * HTTP/1.1\r\nHost: x\r\n\r\n").status == Status::complete);  // tchars

  // Anything but method SP target SP version: 400.
  for (std::string_view line :
       {"GET", "GET /", "GET / ", "GET  / HTTP/1.1", " GET / HTTP/1.1", "GET\t/\tHTTP/1.1",
        "G@T / HTTP/1.1", "GET /a b HTTP/1.1", "GET /\x01 HTTP/1.1", "GET /\x7f HTTP/1.1",
        "GET /\xc3\xa9 HTTP/1.1", "(GET) / HTTP/1.1", "/ HTTP/1.1"}) {
    CAPTURE(line);
    std::string in = std::string(line) + "\r\nHost: x\r\n\r\n";
    CHECK(answer(in) == 400);
    auto e = error_of(in);
    CHECK((e == Error::bad_request_line || e == Error::bad_version));
  }
  CHECK(error_of("GET / HTTP/1.1 \r\nHost: x\r\n\r\n") == Error::bad_version);
}

TEST_CASE("http parser: versions 1.0 and 1.x, 505 for other majors, 400 for the malformed") {
  CHECK(parse(get("/", "", "HTTP/1.0")).request.version_minor == 0);
  CHECK(parse(get("/", "", "HTTP/1.1")).request.version_minor == 1);
  // A higher minor version is answered as 1.1 (RFC 9110 2.5).
  CHECK(parse(get("/", "", "HTTP/1.2")).request.version_minor == 1);
  CHECK(parse(get("/", "", "HTTP/1.9")).request.version_minor == 1);
  for (std::string_view v : {"HTTP/2.0", "HTTP/3.0", "HTTP/9.9", "HTTP/0.9", "HTTP/0.0"}) {
    CAPTURE(v);
    CHECK(error_of(get("/", "", v)) == Error::version_not_supported);
    CHECK(answer(get("/", "", v)) == 505);
  }
  for (std::string_view v :
       {"HTTP/1.10", "HTTP/11", "HTTP/1", "HTTP/1.", "http/1.1", "HTTP/1,1", "HTTP/a.1", "HTTP/1.x",
        "HTTP/1.1x", "HTTPS/1.1", "HTTP 1.1", "1.1", "HTTP/-1.1"}) {
    CAPTURE(v);
    CHECK(answer(get("/", "", v)) == 400);
  }
  // HTTP/0.9's request line has no version at all: not a request we take.
  CHECK(answer("GET /\r\n\r\n") == 400);
}

TEST_CASE("http parser: every error has its status, and each is reachable") {
  Limits small;
  small.max_body = 10;
  struct Case {
    Error error;
    int status;
    std::string in;
  };
  std::vector<Case> cases = {
      {Error::bare_lf, 400, "GET / HTTP/1.1\nHost: x\r\n\r\n"},
      {Error::bare_cr, 400, "GET / HTTP/1.1\rHost: x\r\n\r\n"},
      {Error::bad_request_line, 400, "GET /\r\n\r\n"},
      {Error::bad_version, 400, get("/", "", "HTTP/1.x")},
      {Error::version_not_supported, 505, get("/", "", "HTTP/2.0")},
      {Error::request_line_too_long, 414, get("/" + std::string(9000, 'a'))},
      {Error::bad_field, 400, get("/", "No colon here\r\n")},
      {Error::obs_fold, 400, get("/", "X-A: 1\r\n  continued\r\n")},
      {Error::space_before_colon, 400, get("/", "X-A : 1\r\n")},
      {Error::field_too_long, 431, get("/", "X-A: " + std::string(9000, 'v') + "\r\n")},
      {Error::too_many_fields, 431,
       [] {
         std::string f;
         for (int i = 0; i < 70; ++i) f += "X-" + std::to_string(i) + ": v\r\n";
         return get("/", f);
       }()},
      {Error::header_too_large, 431,
       [] {
         std::string f;
         for (int i = 0; i < 3; ++i)
           f += "X-" + std::to_string(i) + ": " + std::string(6000, 'v') + "\r\n";
         return get("/", f);
       }()},
      {Error::host_missing, 400, "GET / HTTP/1.1\r\n\r\n"},
      {Error::host_repeated, 400, get("/", "Host: other\r\n")},
      {Error::bad_host, 400, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
      {Error::bad_content_length, 400, post("Content-Length: x\r\n", "")},
      {Error::length_and_chunked, 400,
       post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n")},
      {Error::bad_transfer_encoding, 400, post("Transfer-Encoding: gzip\r\n", "")},
      {Error::unsupported_coding, 501, post("Transfer-Encoding: gzip, chunked\r\n", "")},
      {Error::body_too_large, 413, post("Content-Length: 11\r\n", "hello world")},
      {Error::bad_chunk, 400, post("Transfer-Encoding: chunked\r\n", "z\r\n")},
  };
  std::set<Error> seen;
  for (const auto& c : cases) {
    CAPTURE(error_name(c.error));
    auto r = parse(c.in, small);
    CHECK(r.status == Status::error);
    CHECK(error_name(r.error) == error_name(c.error));
    CHECK(status_for(c.error) == c.status);
    seen.insert(c.error);
  }
  CHECK(seen.size() == error_count - 1);  // all but none
  CHECK(status_for(Error::none) == 200);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < error_count; ++i) names.insert(error_name(Error(i)));
  CHECK(names.size() == error_count);
  CHECK(names.count("?") == 0);
  CHECK(error_name(Error::count) == "?");
}

TEST_CASE("http parser: the request line at its limit and one over (414)") {
  // "GET " + target + " HTTP/1.1" is exactly n octets (CRLF not counted).
  auto line_of = [](std::size_t n) {
    return "GET /" + std::string(n - 4 - 1 - 9, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  };
  CHECK(answer(line_of(8192)) == 200);
  CHECK(error_of(line_of(8193)) == Error::request_line_too_long);
  CHECK(answer(line_of(8193)) == 414);
  // Even while the line is still coming: 414 without waiting for its end.
  RequestParser p(Limits{});
  std::string partial = "GET /" + std::string(9000, 'a');
  CHECK(p.feed(partial) == 0);
  CHECK(p.error() == Error::request_line_too_long);
  // Other limits the same way.
  Limits l;
  l.max_request_line = 20;
  CHECK(answer("GET /234567 HTTP/1.1\r\nHost: x\r\n\r\n", l) == 200);  // 20
  CHECK(answer("GET /2345678 HTTP/1.1\r\nHost: x\r\n\r\n", l) == 414);
}

TEST_CASE("http parser: a field line at its limit and one over (431)") {
  // "X-Long: " + value is exactly n octets (CRLF not counted).
  auto field_of = [](std::size_t n) {
    return get("/", "X-Long: " + std::string(n - 8, 'v') + "\r\n");
  };
  auto ok = parse(field_of(8192));
  REQUIRE(ok.status == Status::complete);
  CHECK(ok.request.field("x-long")->size() == 8192 - 8);
  CHECK(error_of(field_of(8193)) == Error::field_too_long);
  CHECK(answer(field_of(8193)) == 431);
}

TEST_CASE("http parser: 64 fields and 65 (431)") {
  auto with = [](int n) {
    std::string f;
    for (int i = 1; i < n; ++i) f += "X-" + std::to_string(i) + ": " + std::to_string(i) + "\r\n";
    return get("/", f);  // Host is the first
  };
  auto ok = parse(with(64));
  REQUIRE(ok.status == Status::complete);
  CHECK(ok.request.fields.size() == 64);
  CHECK(error_of(with(65)) == Error::too_many_fields);
  CHECK(answer(with(65)) == 431);
}

TEST_CASE("http parser: the header section at its limit and one over (431)") {
  // A request whose header section (request line, fields, the empty line,
  // every CRLF) is exactly n octets.
  auto section_of = [](std::size_t n) {
    std::string base = "GET / HTTP/1.1\r\nHost: x\r\n";
    std::size_t rest = n - base.size() - 2;  // three fields "A<i>:" value CRLF
    std::size_t values = rest - 3 * 5;
    std::string f;
    for (int i = 0; i < 3; ++i) {
      std::size_t len = values / 3 + (i == 0 ? values % 3 : 0);
      f += "A" + std::to_string(i) + ":" + std::string(len, 'v') + "\r\n";
    }
    std::string out = base + f + "\r\n";
    REQUIRE(out.size() == n);
    return out;
  };
  CHECK(answer(section_of(16384)) == 200);
  CHECK(error_of(section_of(16385)) == Error::header_too_large);
  CHECK(answer(section_of(16385)) == 431);
  // Empty lines before the request line are not part of it.
  CHECK(answer("\r\n\r\n\r\n\r\n" + section_of(16384)) == 200);
  // Trailer fields count against it too.
  std::string big = section_of(16384 - 20);
  big.insert(big.size() - 2, "Transfer-Encoding: chunked\r\n");  // 28 more: over
  std::string chunked_ok = section_of(16384 - 28);
  chunked_ok.insert(chunked_ok.size() - 2, "Transfer-Encoding: chunked\r\n");
  CHECK(answer(chunked_ok + "1\r\nx\r\n0\r\n\r\n") == 200);
  CHECK(answer(chunked_ok + "1\r\nx\r\n0\r\nT: v\r\n\r\n") == 431);
  CHECK(answer(big + "0\r\n\r\n") == 431);
}

TEST_CASE("http parser: Content-Length") {
  auto r = parse(post("Content-Length: 5\r\n", "hello"));
  REQUIRE(r.status == Status::complete);
  CHECK(r.request.body == "hello");
  CHECK_FALSE(r.request.chunked);
  CHECK(parse(post("Content-Length: 0\r\n", "")).request.body.empty());
  CHECK(parse(post("Content-Length: 007\r\n", "1234567")).request.body == "1234567");
  CHECK(parse(post("Content-Length:5 \r\n", "hello")).request.body == "hello");
  // Several, all equal: one value (RFC 9112 6.3 item 5).
  CHECK(parse(post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")).request.body == "hello");
  CHECK(parse(post("Content-Length: 5, 5\r\n", "hello")).request.body == "hello");
  CHECK(parse(post("Content-Length: 5,5, 5\r\n", "hello")).request.body == "hello");
  // Differing, or not a decimal number: 400.
  for (std::string_view f :
       {"Content-Length: 5\r\nContent-Length: 6\r\n", "Content-Length: 5, 6\r\n",
        "Content-Length: x\r\n", "Content-Length: -1\r\n", "Content-Length: +5\r\n",
        "Content-Length: 0x5\r\n", "Content-Length: 5 5\r\n", "Content-Length: 5.0\r\n",
        "Content-Length:\r\n", "Content-Length: ,\r\n",
        "Content-Length: 5\r\nContent-Length: x\r\n"}) {
    CAPTURE(f);
    CHECK(error_of(post(f, "hello")) == Error::bad_content_length);
    CHECK(answer(post(f, "hello")) == 400);
  }
  // Longer than max_body, up to beyond 64 bits: 413 before the body comes.
  Limits l;
  l.max_body = 100;
  CHECK(answer(post("Content-Length: 100\r\n", std::string(100, 'b')), l) == 200);
  CHECK(error_of(post("Content-Length: 101\r\n", ""), l) == Error::body_too_large);
  CHECK(answer(post("Content-Length: 99999999999999999999999999\r\n", "")) == 413);
  CHECK(answer(post("Content-Length: 18446744073709551615\r\n", "")) == 413);
  CHECK(answer(post("Content-Length: 18446744073709551616\r\n", "")) == 413);
  CHECK(answer(post("Content-Length: 99999999999999999999, 99999999999999999999\r\n", "")) == 413);
  // The default limit, exactly.
  CHECK(answer(post("Content-Length: 65536\r\n", std::string(65536, 'b'))) == 200);
  CHECK(answer(post("Content-Length: 65537\r\n", "")) == 413);
  // The body is binary: CR, LF and NUL are just octets.
  std::string binary("\r\n\0\r\r\n\n", 7);
  CHECK(parse(post("Content-Length: 7\r\n", binary)).request.body == binary);
  // Not all there yet.
  CHECK(answer(post("Content-Length: 10\r\n", "hello")) == 0);
}

TEST_CASE("http parser: chunked bodies") {
  auto r = parse(post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  REQUIRE(r.status == Status::complete);
  CHECK(r.request.chunked);
  CHECK(r.request.body == "hello world");
  // Hex sizes in either case, leading zeros, up to 8 digits.
  CHECK(parse(post("Transfer-Encoding: chunked\r\n",
                   "a\r\n0123456789\r\nA\r\nabcdefghij\r\n000000001\r\n"))
            .error == Error::bad_chunk);  // nine digits
  CHECK(parse(post("Transfer-Encoding: chunked\r\n",
                   "a\r\n0123456789\r\nA\r\nabcdefghij\r\n00000001\r\nz\r\n0\r\n\r\n"))
            .request.body == "0123456789abcdefghijz");
  // Extensions are skipped.
  CHECK(parse(post("Transfer-Encoding: chunked\r\n",
                   "5;name=value\r\nhello\r\n1 ; a=\"b;c\" ;d\r\n!\r\n0;last\r\n\r\n"))
            .request.body == "hello!");
  // Trailer fields are checked and dropped.
  auto t = parse(post("Transfer-Encoding: Chunked\r\n", "3\r\nabc\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n"));
  REQUIRE(t.status == Status::complete);
  CHECK(t.request.body == "abc");
  CHECK(t.request.field("x-t") == nullptr);
  // Data with CR and LF in it.
  CHECK(parse(post("Transfer-Encoding: chunked\r\n", "4\r\n\r\n\r\n\r\n0\r\n\r\n")).request.body ==
        "\r\n\r\n");
  // Malformed: 400.
  for (std::string_view body :
       {"g\r\n", "\r\n", "-1\r\n", "5x\r\nhello\r\n0\r\n\r\n", "0x5\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloX\r\n0\r\n\r\n", "5\r\nhello0\r\n\r\n", "5\r\nhello\r0\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n", "0\r\nbad trailer\r\n\r\n",
        "0\r\n  folded\r\n\r\n", "0\r\nX-T: 1\n\r\n", "0\r\n\n"}) {
    CAPTURE(body);
    CHECK(answer(post("Transfer-Encoding: chunked\r\n", body)) == 400);
  }
  // Longer than max_body in all: 413, before the data comes.
  Limits l;
  l.max_body = 10;
  CHECK(answer(post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"),
               l) == 200);
  CHECK(error_of(post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n6\r\n"), l) ==
        Error::body_too_large);
  CHECK(answer(post("Transfer-Encoding: chunked\r\n", "ffffffff\r\n"), l) == 413);
  // Trailer fields count against the field limit.
  std::string fields = "Transfer-Encoding: chunked\r\n";
  for (int i = 0; i < 61; ++i) fields += "X-" + std::to_string(i) + ": v\r\n";  // 63 with Host
  CHECK(answer(post(fields, "0\r\nT: 1\r\n\r\n")) == 200);
  CHECK(answer(post(fields, "0\r\nT: 1\r\nU: 2\r\n\r\n")) == 431);
  // Incomplete until the trailer's empty line.
  CHECK(answer(post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n")) == 0);
}

TEST_CASE("http parser: Transfer-Encoding rules") {
  // The last coding is not chunked: the length cannot be known (6.1 MUST).
  CHECK(error_of(post("Transfer-Encoding: gzip\r\n", "")) == Error::bad_transfer_encoding);
  CHECK(answer(post("Transfer-Encoding: chunked, gzip\r\n", "")) == 400);
  CHECK(answer(post("Transfer-Encoding:\r\n", "")) == 400);
  CHECK(answer(post("Transfer-Encoding: ,\r\n", "")) == 400);
  // Chunked after a coding we do not do: 501.
  CHECK(error_of(post("Transfer-Encoding: gzip, chunked\r\n", "")) == Error::unsupported_coding);
  CHECK(answer(post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "")) == 501);
  // In HTTP/1.0: faulty framing.
  CHECK(error_of("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") ==
        Error::bad_transfer_encoding);
  // With Content-Length: 400 (6.3 item 3), whichever comes first.
  CHECK(error_of(post("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", "0\r\n\r\n")) ==
        Error::length_and_chunked);
  CHECK(error_of(post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")) ==
        Error::length_and_chunked);
  // Case does not matter.
  CHECK(answer(post("Transfer-Encoding: CHUNKED\r\n", "0\r\n\r\n")) == 200);
}

TEST_CASE("http parser: Connection and the version decide keep-alive") {
  auto keep = [](std::string_view version, std::string_view connection) {
    std::string extra = connection.empty() ? "" : "Connection: " + std::string(connection) + "\r\n";
    auto r = parse(get("/", extra, version));
    REQUIRE(r.status == Status::complete);
    return r.request.keep_alive;
  };
  CHECK(keep("HTTP/1.1", ""));
  CHECK_FALSE(keep("HTTP/1.1", "close"));
  CHECK_FALSE(keep("HTTP/1.1", "Close"));
  CHECK_FALSE(keep("HTTP/1.1", "keep-alive, close"));
  CHECK_FALSE(keep("HTTP/1.1", "foo,close"));
  CHECK(keep("HTTP/1.1", "keep-alive"));
  CHECK(keep("HTTP/1.1", "upgrade"));
  CHECK(keep("HTTP/1.1", "closed"));  // a different token
  CHECK_FALSE(keep("HTTP/1.0", ""));
  CHECK(keep("HTTP/1.0", "keep-alive"));
  CHECK(keep("HTTP/1.0", "Keep-Alive"));
  CHECK(keep("HTTP/1.0", "foo, keep-alive"));
  CHECK_FALSE(keep("HTTP/1.0", "keep-alive, close"));
  CHECK_FALSE(keep("HTTP/1.0", "upgrade"));
  // Two Connection fields are one list.
  CHECK_FALSE(
      parse(get("/", "Connection: keep-alive\r\nConnection: close\r\n")).request.keep_alive);
}

TEST_CASE("http parser: field lines") {
  CHECK(parse(get("/", "X-Tab:\tv\t\r\n")).request.field("x-tab")->compare("v") == 0);
  CHECK(*parse(get("/", "X-In: a  b\tc\r\n")).request.field("x-in") == "a  b\tc");
  CHECK(*parse(get("/", "X-Obs: caf\xc3\xa9\r\n")).request.field("x-obs") == "caf\xc3\xa9");
  CHECK(*parse(get("/", "X-Colon: a:b:c\r\n")).request.field("x-colon") == "a:b:c");
  CHECK(parse(get("/", "!#$%&'*+-.^_`|~09azAZ: v\r\n")).status == Status::complete);
  CHECK(error_of(get("/", "X-A\t: 1\r\n")) == Error::space_before_colon);
  CHECK(error_of(get("/", ": 1\r\n")) == Error::bad_field);
  CHECK(error_of(get("/", "X A: 1\r\n")) == Error::bad_field);
  CHECK(error_of(get("/", "X(A): 1\r\n")) == Error::bad_field);
  CHECK(error_of(get("/", "X-Ctl: a\x01z\r\n")) == Error::bad_field);
  CHECK(error_of(get("/", std::string("X-Nul: a\0z\r\n", 12))) == Error::bad_field);
  CHECK(error_of(get("/", "X-Del: a\x7fz\r\n")) == Error::bad_field);
  CHECK(error_of(get("/", "X-A: 1\r\n\tcontinued\r\n")) == Error::obs_fold);
  // Whitespace between the request line and the first field (RFC 9112 2.2).
  CHECK(error_of("GET / HTTP/1.1\r\n Host: x\r\n\r\n") == Error::obs_fold);
  // Host: exactly one in 1.1, at most one in 1.0.
  CHECK(error_of("GET / HTTP/1.1\r\nX: y\r\n\r\n") == Error::host_missing);
  CHECK(error_of("GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n") == Error::host_repeated);
  CHECK(answer("GET / HTTP/1.0\r\n\r\n") == 200);
  CHECK(error_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == Error::host_repeated);
  CHECK(answer("GET / HTTP/1.1\r\nHost:\r\n\r\n") == 200);  // empty, but there
}

TEST_CASE("http parser: up to four empty lines before the request line are skipped") {
  for (int n = 0; n <= 4; ++n) {
    CAPTURE(n);
    std::string in;
    for (int i = 0; i < n; ++i) in += "\r\n";
    in += get("/x");
    auto r = parse(in);
    REQUIRE(r.status == Status::complete);
    CHECK(r.consumed == in.size());
    CHECK(r.request.target == "/x");
  }
  CHECK(error_of("\r\n\r\n\r\n\r\n\r\n" + get("/x")) == Error::bad_request_line);
  CHECK(answer("\r\n\r\n\r\n\r\n\r\n" + get("/x")) == 400);
  CHECK(answer("\n" + get("/x")) == 400);
  CHECK(answer("\r\r\n" + get("/x")) == 400);
  // Only empty lines: still waiting.
  CHECK(answer("\r\n\r\n") == 0);
}

TEST_CASE("http parser: pipelined requests, one at a time") {
  std::string a = get("/a"), b = post("Content-Length: 3\r\n", "xyz"),
              c = post("Transfer-Encoding: chunked\r\n", "2\r\nhi\r\n0\r\n\r\n"),
              d = get("/d", "Connection: close\r\n");
  std::string stream = a + b + c + d;
  // feed() stops at the end of the first request, whichever way it came.
  auto first = parse(stream);
  REQUIRE(first.status == Status::complete);
  CHECK(first.consumed == a.size());
  CHECK(first.request.target == "/a");

  // The whole stream through one parser, in pieces of every size from 1 to
  // 64: the same four requests each time.
  for (std::size_t piece = 1; piece <= 64; ++piece) {
    CAPTURE(piece);
    RequestParser p(Limits{});
    std::vector<Request> got;
    std::size_t off = 0;
    while (off < stream.size()) {
      std::string_view chunk = std::string_view(stream).substr(off, piece);
      std::size_t done = 0;
      while (done < chunk.size()) {
        done += p.feed(chunk.substr(done));
        REQUIRE(p.status() != Status::error);
        if (p.status() == Status::complete) {
          got.push_back(p.request());
          p.reset();
        }
      }
      off += chunk.size();
    }
    REQUIRE(got.size() == 4);
    CHECK(got[0].target == "/a");
    CHECK(got[1].body == "xyz");
    CHECK(got[2].body == "hi");
    CHECK(got[2].chunked);
    CHECK(got[3].target == "/d");
    CHECK_FALSE(got[3].keep_alive);
    CHECK(p.status() == Status::need_more);
    CHECK_FALSE(p.started());
  }
}

TEST_CASE("http parser: a bare CR or a bare LF anywhere in the header section is 400") {
  std::string header =
      "POST /p HTTP/1.1\r\nHost: x\r\nX-A: b c\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string body = "3\r\nabc\r\n0\r\nT: v\r\n\r\n";
  REQUIRE(answer(header + body) == 200);
  // Everywhere before the body, and in the chunk lines and the trailer.
  std::vector<std::size_t> places;
  for (std::size_t i = 0; i < header.size(); ++i) places.push_back(i);
  for (std::size_t i : {0, 1, 3, 8, 10, 11, 13, 15}) places.push_back(header.size() + i);
  for (std::size_t i : places) {
    CAPTURE(i);
    std::string in = header + body;
    std::string cr = in, lf = in;
    cr.insert(i, "\r");
    lf.insert(i, "\n");
    auto r = parse(cr);
    CHECK(r.status == Status::error);
    CHECK(status_for(r.error) == 400);
    r = parse(lf);
    CHECK(r.status == Status::error);
    CHECK(status_for(r.error) == 400);
  }
  // Each line's CRLF as a bare LF, and as a bare CR.
  for (std::size_t at = header.find("\r\n"); at != std::string::npos;
       at = header.find("\r\n", at + 1)) {
    CAPTURE(at);
    std::string lf = header, cr = header;
    lf.erase(at, 1);
    cr.erase(at + 1, 1);
    CHECK(error_of(lf + body) == Error::bare_lf);
    CHECK(error_of(cr + body) == Error::bare_cr);
  }
}

TEST_CASE("http parser: after an error nothing is taken until reset") {
  RequestParser p(Limits{});
  CHECK(p.feed("GET / HTTP/1.1\r\nHost : x\r\n") == 0);
  CHECK(p.status() == Status::error);
  CHECK(p.error() == Error::space_before_colon);
  CHECK(p.feed("\r\n") == 0);
  CHECK(p.feed(get("/")) == 0);
  CHECK(p.status() == Status::error);
  p.reset();
  CHECK(p.error() == Error::none);
  std::string ok = get("/again");
  CHECK(p.feed(ok) == ok.size());
  CHECK(p.status() == Status::complete);
  CHECK(p.request().target == "/again");
}

}  // namespace rz::net::http
