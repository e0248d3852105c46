#include "net/http_parser.hpp"

#include <algorithm>
#include <cctype>

namespace rz::net::http {
namespace {

bool is_tchar(std::uint8_t c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(c); });
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each comma-separated element of a list value (RFC
// 9110 5.6.1), trimmed; empty elements are skipped.
template <typename F>
void for_each_element(std::string_view list, F f) {
  while (true) {
    auto comma = list.find(',');
    auto element = trim(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2-3.2.3): an IP-literal
// in brackets, or a reg-name (unreserved, pct-encoded, sub-delims; IPv4
// addresses are reg-names too), then digits after a colon.
bool valid_host(std::string_view v) {
  std::string_view host = v, port;
  if (!v.empty() && v.front() == '[') {
    auto close = v.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : v.substr(1, close - 1))
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    host = v.substr(0, close + 1);
    auto rest = v.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    auto colon = v.find(':');
    if (colon != std::string_view::npos) {
      host = v.substr(0, colon);
      port = v.substr(colon + 1);
    }
    for (std::size_t i = 0; i < host.size(); ++i) {
      auto c = static_cast<unsigned char>(host[i]);
      if (std::isalnum(c) ||
          std::string_view("-._~!$&'()*+,;=").find(char(c)) != std::string_view::npos)
        continue;
      if (c == '%' && i + 2 < host.size() &&
          std::isxdigit(static_cast<unsigned char>(host[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(host[i + 2]))) {
        i += 2;
        continue;
      }
      return false;
    }
  }
  return std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Method method_from(std::string_view t) {
  if (t == "GET") return Method::get;
  if (t == "HEAD") return Method::head;
  if (t == "POST") return Method::post;
  if (t == "PUT") return Method::put;
  if (t == "DELETE") return Method::del;
  if (t == "OPTIONS") return Method::options;
  if (t == "PATCH") return Method::patch;
  return Method::other;
}

std::string_view method_name(Method m) {
  switch (m) {
    case Method::get:
      return "GET";
    case Method::head:
      return "HEAD";
    case Method::post:
      return "POST";
    case Method::put:
      return "PUT";
    case Method::del:
      return "DELETE";
    case Method::options:
      return "OPTIONS";
    case Method::patch:
      return "PATCH";
    case Method::other:
      break;
  }
  return "?";
}

const std::string* Request::field(std::string_view lower_name) const {
  for (const auto& [name, value] : fields)
    if (name == lower_name) return &value;
  return nullptr;
}

std::size_t Request::count(std::string_view lower_name) const {
  return std::size_t(std::count_if(fields.begin(), fields.end(),
                                   [&](const auto& f) { return f.first == lower_name; }));
}

int status_for(Error e) {
  switch (e) {
    case Error::none:
      return 200;
    case Error::version_not_supported:
      return 505;
    case Error::request_line_too_long:
      return 414;
    case Error::field_too_long:
    case Error::too_many_fields:
    case Error::header_too_large:
      return 431;
    case Error::unsupported_coding:
      return 501;
    case Error::body_too_large:
      return 413;
    default:
      return 400;
  }
}

std::string_view error_name(Error e) {
  static constexpr std::string_view names[] = {
      "none",
      "bare_lf",
      "bare_cr",
      "bad_request_line",
      "bad_version",
      "version",
      "request_line_too_long",
      "bad_field",
      "obs_fold",
      "space_before_colon",
      "field_too_long",
      "too_many_fields",
      "header_too_large",
      "host_missing",
      "host_repeated",
      "bad_host",
      "bad_content_length",
      "length_and_chunked",
      "bad_transfer_encoding",
      "unsupported_coding",
      "body_too_large",
      "bad_chunk",
  };
  static_assert(std::size(names) == error_count);
  auto i = static_cast<std::size_t>(e);
  return i < error_count ? names[i] : "?";
}

void RequestParser::reset() {
  state_ = State::request_line;
  status_ = Status::need_more;
  error_ = Error::none;
  request_ = Request{};
  line_.clear();
  line_cr_ = false;
  started_ = false;
  empty_lines_ = 0;
  fields_seen_ = 0;
  header_bytes_ = 0;
  remaining_ = 0;
}

void RequestParser::fail(Error e) {
  if (status_ == Status::error) return;
  status_ = Status::error;
  error_ = e;
}

bool RequestParser::take_line(std::span<const std::uint8_t> in, std::size_t& i, std::size_t limit,
                              Error too_long) {
  const bool in_header =
      state_ == State::request_line || state_ == State::fields || state_ == State::trailer;
  while (i < in.size()) {
    std::uint8_t c = in[i++];
    // The empty line that ends a chunked body is not a trailer field: a
    // header section at the limit leaves no room for trailers, not for it.
    bool body_end = state_ == State::trailer &&
                    ((line_.empty() && c == '\r') || (line_cr_ && line_.size() == 1 && c == '\n'));
    if (in_header && !body_end && ++header_bytes_ > limits_.max_header_bytes) {
      fail(state_ == State::request_line ? too_long : Error::header_too_large);
      return false;
    }
    if (line_cr_) {
      if (c != '\n') {
        fail(Error::bare_cr);
        return false;
      }
      line_.pop_back();
      line_cr_ = false;
      return true;
    }
    if (c == '\n') {
      fail(Error::bare_lf);
      return false;
    }
    if (state_ == State::request_line && c != '\r') started_ = true;
    line_cr_ = c == '\r';
    line_.push_back(char(c));
    // The CR of the line's end is not the line's.
    if (line_.size() - (line_cr_ ? 1 : 0) > limit) {
      fail(too_long);
      return false;
    }
  }
  return false;
}

std::size_t RequestParser::feed(std::span<const std::uint8_t> in) {
  std::size_t i = 0;
  while (status_ == Status::need_more && i < in.size()) {
    switch (state_) {
      case State::request_line:
        if (!take_line(in, i, limits_.max_request_line, Error::request_line_too_long)) break;
        if (line_.empty()) {
          if (++empty_lines_ > limits_.max_empty_lines) fail(Error::bad_request_line);
          // Empty lines before the request are not part of it.
          header_bytes_ = 0;
          break;
        }
        on_request_line();
        line_.clear();
        break;
      case State::fields:
      case State::trailer: {
        bool trailer = state_ == State::trailer;
        if (!take_line(in, i, limits_.max_field_line, Error::field_too_long)) break;
        if (line_.empty()) {
          if (trailer)
            state_ = State::done;
          else
            on_header_end();
        } else {
          on_field_line(trailer);
        }
        line_.clear();
        break;
      }
      case State::body:
      case State::chunk_data: {
        std::size_t n = std::size_t(std::min<std::uint64_t>(remaining_, in.size() - i));
        request_.body.append(reinterpret_cast<const char*>(in.data() + i), n);
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state_ == State::body ? State::done : State::chunk_data_end;
        break;
      }
      case State::chunk_size:
        // A size, extensions and CRLF: as long as a field line may be.
        if (!take_line(in, i, limits_.max_field_line, Error::bad_chunk)) break;
        on_chunk_size();
        line_.clear();
        break;
      case State::chunk_data_end:
        if (!take_line(in, i, 0, Error::bad_chunk)) break;
        state_ = State::chunk_size;
        line_.clear();
        break;
      case State::done:
        break;
    }
    if (state_ == State::done && status_ == Status::need_more) status_ = Status::complete;
  }
  if (state_ == State::done && status_ == Status::need_more) status_ = Status::complete;
  return status_ == Status::error ? 0 : i;
}

void RequestParser::on_request_line() {
  std::string_view line = line_;
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(Error::bad_request_line);
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(Error::bad_request_line);
  auto method = line.substr(0, sp1);
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty()) return fail(Error::bad_request_line);
  for (char c : target)
    if (std::uint8_t(c) < 0x21 || std::uint8_t(c) > 0x7E) return fail(Error::bad_request_line);
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (2.3), case-sensitive.
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return fail(Error::bad_version);
  if (version[5] != '1') return fail(Error::version_not_supported);
  request_.method_text = method;
  request_.method = method_from(method);
  request_.target = target;
  request_.version_minor = version[7] == '0' ? 0 : 1;
  state_ = State::fields;
}

void RequestParser::on_field_line(bool trailer) {
  std::string_view line = line_;
  if (line.front() == ' ' || line.front() == '\t') return fail(Error::obs_fold);
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return fail(Error::bad_field);
  auto name = line.substr(0, colon);
  if (name.back() == ' ' || name.back() == '\t') return fail(Error::space_before_colon);
  if (!is_token(name)) return fail(Error::bad_field);
  auto value = trim(line.substr(colon + 1));
  for (char ch : value) {
    auto c = std::uint8_t(ch);
    if (c != '\t' && (c < 0x20 || c == 0x7F)) return fail(Error::bad_field);
  }
  if (++fields_seen_ > limits_.max_fields) return fail(Error::too_many_fields);
  // Trailer fields are checked and counted, then dropped (RFC 9112 7.1.2
  // lets a recipient discard them).
  if (!trailer) request_.fields.emplace_back(lowercase(name), std::string(value));
}

void RequestParser::on_header_end() {
  auto& r = request_;
  std::size_t hosts = r.count("host");
  if (r.version_minor == 1 && hosts == 0) return fail(Error::host_missing);
  if (hosts > 1) return fail(Error::host_repeated);
  if (hosts == 1 && !valid_host(*r.field("host"))) return fail(Error::bad_host);

  bool has_te = r.count("transfer-encoding") > 0;
  bool has_cl = r.count("content-length") > 0;
  if (has_te) {
    if (has_cl) return fail(Error::length_and_chunked);
    if (r.version_minor == 0) return fail(Error::bad_transfer_encoding);  // 6.1: faulty framing
    std::vector<std::string_view> codings;
    for (const auto& [name, value] : r.fields)
      if (name == "transfer-encoding")
        for_each_element(value, [&](std::string_view c) { codings.push_back(c); });
    // Chunked not last: the length cannot be known (6.1 MUST 400); chunked
    // after codings we do not do: 501 (6.1 SHOULD).
    if (codings.empty() || !iequals(codings.back(), "chunked"))
      return fail(Error::bad_transfer_encoding);
    if (codings.size() != 1) return fail(Error::unsupported_coding);
    r.chunked = true;
  }
  std::uint64_t length = 0;
  bool seen = false, too_large = false;
  for (const auto& [name, value] : r.fields) {
    if (name != "content-length") continue;
    bool bad = false;
    for_each_element(value, [&](std::string_view v) {
      std::uint64_t n = 0;
      bool big = false;
      for (char c : v) {
        if (c < '0' || c > '9') {
          bad = true;
          return;
        }
        if (n > (~std::uint64_t(0) - 9) / 10)
          big = true;
        else
          n = n * 10 + std::uint64_t(c - '0');
      }
      if (seen && (n != length || big != too_large)) bad = true;
      seen = true;
      length = n;
      too_large = big;
    });
    if (bad || value.empty()) return fail(Error::bad_content_length);
  }
  if (has_cl && !seen) return fail(Error::bad_content_length);
  if (too_large || length > limits_.max_body) return fail(Error::body_too_large);

  bool close = false, keep_alive = false;
  for (const auto& [name, value] : r.fields) {
    if (name != "connection") continue;
    for_each_element(value, [&](std::string_view t) {
      if (iequals(t, "close")) close = true;
      if (iequals(t, "keep-alive")) keep_alive = true;
    });
  }
  r.keep_alive = !close && (r.version_minor == 1 || keep_alive);
  // 100-continue in HTTP/1.0 is ignored (RFC 9110 10.1.1 MUST).
  if (const std::string* expect = r.field("expect"))
    r.expects_continue =
        r.version_minor == 1 && iequals(*expect, "100-continue") && (r.chunked || length > 0);

  if (r.chunked) {
    state_ = State::chunk_size;
  } else if (length > 0) {
    remaining_ = length;
    r.body.reserve(std::size_t(length));
    state_ = State::body;
  } else {
    state_ = State::done;
  }
}

void RequestParser::on_chunk_size() {
  // chunk = chunk-size [ chunk-ext ] CRLF (7.1); chunk-ext = *( BWS ";" ... )
  std::string_view line = line_;
  std::size_t digits = 0;
  std::uint64_t size = 0;
  while (digits < line.size() && hex_value(line[digits]) >= 0) {
    size = size << 4 | std::uint64_t(hex_value(line[digits]));
    if (++digits > 8) return fail(Error::bad_chunk);
  }
  if (digits == 0) return fail(Error::bad_chunk);
  auto rest = trim(line.substr(digits));
  if (!rest.empty() && rest.front() != ';') return fail(Error::bad_chunk);
  if (size == 0) {
    state_ = State::trailer;
    return;
  }
  if (request_.body.size() + size > limits_.max_body) return fail(Error::body_too_large);
  remaining_ = size;
  state_ = State::chunk_data;
}

}  // namespace rz::net::http
