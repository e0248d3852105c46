// HTTP/1.1 requests (RFC 9112) as a server reads them: an incremental
// parser fed whatever TCP delivered, with limits on every part. No I/O.
//
//   request      = request-line *( field-line CRLF ) CRLF [ body ]
//   request-line = method SP request-target SP HTTP-version CRLF
//
// What it accepts and what it answers otherwise (the status a server
// should send, with the connection closed afterwards):
//   - lines end in CRLF; a bare LF or a bare CR is 400 (RFC 9112 2.2 lets a
//     recipient take a bare LF as a line end, MAY; we do not: a stricter
//     reading of framing than a proxy in front could make, never a looser);
//   - up to max_empty_lines empty lines before the request line are skipped
//     (2.2 SHOULD ignore at least one);
//   - request line: a token, one SP, a target of visible characters, one SP,
//     "HTTP/" DIGIT "." DIGIT; otherwise 400; longer than max_request_line:
//     414 (URI Too Long); major version other than 1: 505;
//   - field lines: token ":" OWS value OWS; whitespace before the colon 400
//     (5.1 MUST), obs-fold 400 (5.2), control characters in a value 400;
//     a field line over max_field_line, more than max_fields fields, or a
//     header section over max_header_bytes: 431;
//   - HTTP/1.1 without exactly one Host field: 400 (3.2 MUST); HTTP/1.0 with
//     more than one: 400; a Host value that is not uri-host [":" port]
//     (RFC 3986 3.2.2, 3.2.3; empty is allowed): 400 (3.2 MUST);
//   - Transfer-Encoding with Content-Length: 400 (6.3 item 3, then close);
//     Transfer-Encoding whose last coding is not chunked: 400 (6.1 MUST);
//     chunked after other codings: 501 (6.1 SHOULD); any in HTTP/1.0: 400;
//   - Content-Length not 1*DIGIT, or several that differ: 400 (6.3 item 5);
//     a body longer than max_body (declared or chunked): 413;
//   - chunked: hex chunk sizes (at most 8 digits), extensions skipped, CRLF
//     after each chunk's data, trailer fields (counted against the header
//     limits, then dropped); anything else 400.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rz::net::http {

struct Limits {
  std::size_t max_request_line = 8192;
  std::size_t max_field_line = 8192;
  std::size_t max_fields = 64;
  std::size_t max_header_bytes = 16384;  // the whole section, request line included
  std::size_t max_body = 65536;
  unsigned max_empty_lines = 4;
};

enum class Method : std::uint8_t { get, head, post, put, del, options, patch, other };
// The methods this server knows (others get 501, RFC 9110 9.1).
Method method_from(std::string_view token);
std::string_view method_name(Method m);

struct Request {
  std::string method_text;
  Method method = Method::other;
  std::string target;
  int version_minor = 1;  // HTTP/1.x
  // Field names lowercased, values with the surrounding whitespace removed,
  // in the order they came.
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  bool chunked = false;
  bool keep_alive = true;  // after this request (Connection, version)
  // "Expect: 100-continue" in HTTP/1.1 with a body to come: the client may
  // wait for "100 Continue" before sending it (RFC 9110 10.1.1).
  bool expects_continue = false;

  // The first field named `lower_name`, or nullptr.
  const std::string* field(std::string_view lower_name) const;
  std::size_t count(std::string_view lower_name) const;
};

// Why a request was refused; status() gives the HTTP status to answer with.
enum class Error : std::uint8_t {
  none,
  bare_lf,
  bare_cr,
  bad_request_line,
  bad_version,
  version_not_supported,  // 505
  request_line_too_long,  // 414
  bad_field,
  obs_fold,
  space_before_colon,
  field_too_long,    // 431
  too_many_fields,   // 431
  header_too_large,  // 431
  host_missing,
  host_repeated,
  bad_host,
  bad_content_length,
  length_and_chunked,
  bad_transfer_encoding,
  unsupported_coding,  // 501
  body_too_large,      // 413
  bad_chunk,
  count,
};
inline constexpr std::size_t error_count = static_cast<std::size_t>(Error::count);
int status_for(Error e);
std::string_view error_name(Error e);

class RequestParser {
 public:
  enum class Status : std::uint8_t { need_more, complete, error };

  explicit RequestParser(const Limits& limits) : limits_(limits) {}

  // Takes octets from `in` (TCP's stream, in order) and returns how many it
  // used: all of them while the request is incomplete; up to the request's
  // end once it is complete (the rest is the next request); none after an
  // error.
  std::size_t feed(std::span<const std::uint8_t> in);
  std::size_t feed(std::string_view in) {
    return feed({reinterpret_cast<const std::uint8_t*>(in.data()), in.size()});
  }
  Status status() const { return status_; }
  Error error() const { return error_; }
  const Request& request() const { return request_; }
  // Ready for the next request on the connection.
  void reset();
  // Some octet of the current request (beyond skipped empty lines) came.
  bool started() const { return started_; }
  // The header section is complete (the body may still be coming).
  bool header_done() const { return state_ > State::fields; }

 private:
  enum class State : std::uint8_t {
    request_line,
    fields,
    body,
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailer,
    done,
  };
  // Collects one line into line_; true when it ended (CRLF, stripped).
  bool take_line(std::span<const std::uint8_t> in, std::size_t& i, std::size_t limit,
                 Error too_long);
  void fail(Error e);
  void on_request_line();
  void on_field_line(bool trailer);
  void on_header_end();
  void on_chunk_size();

  Limits limits_;
  State state_ = State::request_line;
  Status status_ = Status::need_more;
  Error error_ = Error::none;
  Request request_;
  std::string line_;
  bool line_cr_ = false;  // the last octet of line_ so far was CR
  bool started_ = false;
  unsigned empty_lines_ = 0;
  std::size_t fields_seen_ = 0;  // trailer fields too
  std::size_t header_bytes_ = 0;
  std::uint64_t remaining_ = 0;  // body or chunk octets still to come
};

}  // namespace rz::net::http
