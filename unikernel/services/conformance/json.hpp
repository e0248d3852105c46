// A small strict JSON reader for flat request objects, and a writer for
// replies. Requests on the control channel are one object per line whose
// values are strings, numbers, booleans or null (RFC 8259, minus nesting);
// replies may nest. Neither side throws for bad input: the reader returns a
// reason, the writer always produces valid UTF-8 JSON.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rz::json {

struct Value {
  enum class Kind { null, boolean, number, string } kind = Kind::null;
  bool boolean = false;
  double number = 0;         // every number, nearest double
  bool integral = false;     // an integer literal (no fraction or exponent) within int64
  std::int64_t integer = 0;  // exact when `integral`
  std::string text;          // strings, decoded to UTF-8
};

class Object {
 public:
  // Parses `{"key": value, ...}`; on failure returns nullopt and sets `why`.
  static std::optional<Object> parse(std::string_view text, std::string& why);

  const Value* find(std::string_view key) const;
  std::optional<std::string_view> string(std::string_view key) const;
  // Integer literals only ("7", "-3"; not "7.0" or "1e2"), exact within int64.
  std::optional<std::int64_t> integer(std::string_view key) const;
  // Any number, as the nearest double (±inf when out of range).
  std::optional<double> number(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  bool is_null(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  std::size_t size() const { return members_.size(); }
  // In the order they came.
  const std::vector<std::pair<std::string, Value>>& members() const { return members_; }

 private:
  std::vector<std::pair<std::string, Value>> members_;
};

// Builds JSON text: begin/end objects and arrays, keys, values. Commas are
// inserted where needed; the caller keeps the nesting right. Strings escape
// '"', '\\' and control characters (as \u00XX); bytes that are not valid
// UTF-8 become U+FFFD.
class Writer {
 public:
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& value(std::string_view s);
  Writer& value(const char* s) { return value(std::string_view(s)); }
  Writer& value(std::int64_t n);
  Writer& value(std::uint64_t n);
  Writer& value(int n) { return value(std::int64_t(n)); }
  Writer& value(unsigned n) { return value(std::uint64_t(n)); }
  Writer& value(bool b);
  // Shortest form that reads back the same; NaN and infinities as null.
  Writer& value(double d);
  Writer& null();
  const std::string& str() const { return out_; }

 private:
  void separate();
  void quote(std::string_view s);
  std::string out_;
  bool need_comma_ = false;
};

}  // namespace rz::json
