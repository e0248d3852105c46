// A small strict JSON reader for flat request objects, and a writer for
// replies. Requests on the control channel are one object per line whose
// values are strings, numbers, booleans or null; replies may nest.
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
  double number = 0;
  std::string text;  // strings, decoded
};

class Object {
 public:
  // Parses `{"key": value, ...}`; on failure returns nullopt and sets `why`.
  static std::optional<Object> parse(std::string_view text, std::string& why);

  const Value* find(std::string_view key) const;
  std::optional<std::string_view> string(std::string_view key) const;
  // Integers only (no fraction, within ±2^53).
  std::optional<std::int64_t> integer(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  std::size_t size() const { return members_.size(); }

 private:
  std::vector<std::pair<std::string, Value>> members_;
};

// Builds JSON text: begin/end objects and arrays, keys, values. Commas are
// inserted where needed; the caller keeps the nesting right.
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
  Writer& null();
  const std::string& str() const { return out_; }

 private:
  void separate();
  void quote(std::string_view s);
  std::string out_;
  bool need_comma_ = false;
};

}  // namespace rz::json
