// libFuzzer target: arbitrary octets as a stream of pipelined HTTP/1.1
// requests into the request parser (http_parser.hpp), with limits the
// input picks.
//
// The first 8 octets: the limits (max_request_line 8 + d[0],
// max_field_line 4 + d[1], max_fields d[2] % 16, max_header_bytes
// 16 + 4 * d[3], max_body 16 * d[4], max_empty_lines d[5] % 6), then a seed
// for the pieces (d[6], d[7]). The rest is the stream; it is parsed twice,
// request after request (reset() after each complete one, up to an error):
// fed whole, and fed in pieces of random sizes. Checked:
//   - feed() takes no more than it was given; all of it while the request
//     is incomplete; nothing when it reports an error, nor afterwards;
//   - both ways give the same requests and the same end (status, error);
//   - a complete request keeps to the limits and the grammar: its body has
//     the length Content-Length gave (chunked: at most max_body), at most
//     max_fields fields with lowercase token names and values without
//     CR, LF or NUL, a target of visible characters, HTTP/1.0 or 1.1, one
//     Host in 1.1, and not both Content-Length and chunked;
//   - every error maps to 400, 413, 414, 431, 501 or 505.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_parser.hpp"

namespace {

using namespace rz::net::http;
using Status = RequestParser::Status;

void check(bool ok, const char* what) {
  if (!ok) {
    __builtin_printf("invariant broken: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  std::vector<Request> requests;
  std::vector<std::size_t> ends;  // where each request ended in the stream
  Status status = Status::need_more;
  Error error = Error::none;
};

bool same(const Request& a, const Request& b) {
  return a.method_text == b.method_text && a.method == b.method && a.target == b.target &&
         a.version_minor == b.version_minor && a.fields == b.fields && a.body == b.body &&
         a.chunked == b.chunked && a.keep_alive == b.keep_alive;
}

// The Content-Length a complete request declared (all its values are
// equal, the parser made sure), or -1.
long long declared_length(const Request& r) {
  const std::string* v = r.field("content-length");
  if (!v) return -1;
  std::string_view s = *v;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == ','))
    s.remove_prefix(1);
  long long n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') break;
    n = n * 10 + (c - '0');
    if (n > (1ll << 40)) return n;  // beyond any max_body here
  }
  return n;
}

void check_request(const Request& r, const Limits& limits) {
  check(r.version_minor == 0 || r.version_minor == 1, "version 1.0 or 1.1");
  check(!r.target.empty(), "a target");
  for (char c : r.target) check(c > 0x20 && c < 0x7f, "target of visible characters");
  check(!r.method_text.empty(), "a method");
  check(method_from(r.method_text) == r.method, "method matches its text");
  check(r.fields.size() <= limits.max_fields, "max_fields");
  for (const auto& [name, value] : r.fields) {
    check(!name.empty(), "field name");
    for (char c : name) check(!(c >= 'A' && c <= 'Z') && c > 0x20 && c < 0x7f, "lowercase name");
    for (char c : value) check(c != '\r' && c != '\n' && c != '\0', "value without CR LF NUL");
  }
  if (r.version_minor == 1) check(r.count("host") == 1, "one Host in 1.1");
  check(r.count("host") <= 1, "at most one Host");
  check(r.body.size() <= limits.max_body, "max_body");
  long long length = declared_length(r);
  if (r.chunked) {
    check(length < 0, "not both Content-Length and chunked");
    check(r.version_minor == 1, "chunked only in 1.1");
  } else {
    check(r.body.size() == std::size_t(length < 0 ? 0 : length), "body as long as declared");
  }
  check(r.keep_alive || r.version_minor == 0 || r.field("connection"), "1.1 persists by default");
}

// Parses `stream` request after request, in pieces from next_size().
template <typename F>
Outcome run(std::string_view stream, const Limits& limits, F next_size) {
  Outcome out;
  RequestParser p(limits);
  std::size_t off = 0;
  std::size_t piece_end = 0;
  while (off < stream.size()) {
    if (off >= piece_end) piece_end = off + next_size();
    std::string_view piece = stream.substr(off, piece_end - off);
    std::size_t used = p.feed(piece);
    check(used <= piece.size(), "feed takes at most what it was given");
    if (p.status() == Status::need_more) check(used == piece.size(), "incomplete: takes all");
    if (p.status() == Status::error) {
      check(used == 0, "error: takes nothing");
      check(p.feed(piece) == 0 && p.feed("\r\n") == 0, "error: takes nothing afterwards");
      check(p.status() == Status::error, "an error stays");
      int s = status_for(p.error());
      check(s == 400 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505,
            "an error status");
      check(p.error() != Error::none && p.error() != Error::count, "a named error");
      break;
    }
    off += used;
    if (p.status() == Status::complete) {
      check(p.header_done(), "complete: header done");
      check(p.feed(stream.substr(off)) == 0, "complete: takes nothing more");
      check_request(p.request(), limits);
      out.requests.push_back(p.request());
      out.ends.push_back(off);
      p.reset();
      check(p.status() == Status::need_more && !p.started(), "reset");
    }
  }
  out.status = p.status();
  out.error = p.error();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  Limits limits;
  limits.max_request_line = 8 + data[0];
  limits.max_field_line = 4 + data[1];
  limits.max_fields = data[2] % 16;
  limits.max_header_bytes = 16 + 4 * std::size_t(data[3]);
  limits.max_body = 16 * std::size_t(data[4]);
  limits.max_empty_lines = data[5] % 6;
  std::uint32_t seed = (std::uint32_t(data[6]) << 8 | data[7]) * 2654435761u + 1;
  std::size_t most = 1 + data[7] % 64;
  std::string_view stream(reinterpret_cast<const char*>(data + 8), size - 8);

  Outcome whole = run(stream, limits, [&] { return stream.size(); });
  Outcome split = run(stream, limits, [&] {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return 1 + seed % most;
  });
  check(whole.status == split.status, "same status either way");
  check(whole.error == split.error, "same error either way");
  check(whole.requests.size() == split.requests.size(), "same requests either way");
  check(whole.ends == split.ends, "requests end at the same octets either way");
  for (std::size_t i = 0; i < whole.requests.size(); ++i)
    check(same(whole.requests[i], split.requests[i]), "same request either way");
  return 0;
}
