#include "services/conformance/json.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace rz::json {
namespace {

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629 section 4:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  return n;
}

class Reader {
 public:
  Reader(std::string_view text, std::string& why) : s_(text), why_(why) {}

  bool fail(const char* what) {
    if (why_.empty()) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s at offset %zu", what, pos_);
      why_ = buf;
    }
    return false;
  }
  void skip_space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool eat(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at_end() {
    skip_space();
    return pos_ == s_.size();
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(std::uint32_t& out) {
    if (s_.size() - pos_ < 4) return fail("short \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= std::uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        out |= std::uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        out |= std::uint32_t(c - 'A' + 10);
      else
        return fail("bad \\u escape");
    }
    return true;
  }

  bool string(std::string& out) {
    skip_space();
    if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a string");
    ++pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        std::size_t n = utf8_sequence(s_, pos_ - 1);
        if (n == 0) {
          --pos_;
          return fail("invalid UTF-8 in string");
        }
        out.append(s_.substr(pos_ - 1, n));
        pos_ += n - 1;
        continue;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {
            std::uint32_t low;
            if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low >= 0xE000)
              return fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return fail("unpaired surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
    return fail("unterminated string");
  }

  bool number(Value& v) {
    std::size_t start = pos_;
    bool negative = pos_ < s_.size() && s_[pos_] == '-';
    if (negative) ++pos_;
    auto digits = [&] {
      std::size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - d;
    };
    std::size_t int_start = pos_;
    std::size_t n = digits();
    if (n == 0) return fail("bad number");
    if (n > 1 && s_[int_start] == '0') return fail("leading zero");
    bool literal_integer = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      literal_integer = false;
      if (digits() == 0) return fail("bad fraction");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      literal_integer = false;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) return fail("bad exponent");
    }
    if (literal_integer) {
      // Exact, in the negative range (it is the larger one), overflow checked.
      constexpr std::int64_t min = INT64_MIN;
      std::int64_t acc = 0;
      bool fits = true;
      for (std::size_t i = int_start; i < int_start + n && fits; ++i) {
        int d = s_[i] - '0';
        if (acc < (min + d) / 10)
          fits = false;
        else
          acc = acc * 10 - d;
      }
      if (fits && !negative && acc == min) fits = false;
      if (fits) {
        v.integral = true;
        v.integer = negative ? acc : -acc;
      }
    }
    std::string copy(s_.substr(start, pos_ - start));
    v.number = std::strtod(copy.c_str(), nullptr);
    return true;
  }

  bool value(Value& v) {
    skip_space();
    if (pos_ >= s_.size()) return fail("expected a value");
    char c = s_[pos_];
    if (c == '"') {
      v.kind = Value::Kind::string;
      return string(v.text);
    }
    if (c == 't' && literal("true")) {
      v.kind = Value::Kind::boolean;
      v.boolean = true;
      return true;
    }
    if (c == 'f' && literal("false")) {
      v.kind = Value::Kind::boolean;
      return true;
    }
    if (c == 'n' && literal("null")) return true;
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Value::Kind::number;
      return number(v);
    }
    if (c == '{' || c == '[') return fail("nested values are not accepted");
    return fail("expected a value");
  }

 private:
  std::string_view s_;
  std::string& why_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<Object> Object::parse(std::string_view text, std::string& why) {
  why.clear();
  Reader r(text, why);
  Object obj;
  if (!r.eat('{')) {
    r.fail("expected an object");
    return std::nullopt;
  }
  if (!r.eat('}')) {
    do {
      std::string key;
      Value v;
      if (!r.string(key)) return std::nullopt;
      if (!r.eat(':')) {
        r.fail("expected ':'");
        return std::nullopt;
      }
      if (!r.value(v)) return std::nullopt;
      if (obj.find(key)) {
        r.fail("duplicate key");
        return std::nullopt;
      }
      obj.members_.emplace_back(std::move(key), std::move(v));
    } while (r.eat(','));
    if (!r.eat('}')) {
      r.fail("expected ',' or '}'");
      return std::nullopt;
    }
  }
  if (!r.at_end()) {
    r.fail("text after the object");
    return std::nullopt;
  }
  return obj;
}

const Value* Object::find(std::string_view key) const {
  for (const auto& [k, v] : members_)
    if (k == key) return &v;
  return nullptr;
}

std::optional<std::string_view> Object::string(std::string_view key) const {
  const Value* v = find(key);
  if (!v || v->kind != Value::Kind::string) return std::nullopt;
  return std::string_view(v->text);
}

std::optional<std::int64_t> Object::integer(std::string_view key) const {
  const Value* v = find(key);
  if (!v || v->kind != Value::Kind::number || !v->integral) return std::nullopt;
  return v->integer;
}

std::optional<double> Object::number(std::string_view key) const {
  const Value* v = find(key);
  if (!v || v->kind != Value::Kind::number) return std::nullopt;
  return v->number;
}

bool Object::is_null(std::string_view key) const {
  const Value* v = find(key);
  return v && v->kind == Value::Kind::null;
}

std::optional<bool> Object::boolean(std::string_view key) const {
  const Value* v = find(key);
  if (!v || v->kind != Value::Kind::boolean) return std::nullopt;
  return v->boolean;
}

void Writer::separate() {
  if (need_comma_) out_ += ',';
  need_comma_ = false;
}

void Writer::quote(std::string_view s) {
  out_ += '"';
  for (std::size_t i = 0; i < s.size();) {
    char c = s[i];
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(u));
      out_ += buf;
    } else if (u >= 0x80) {
      std::size_t n = utf8_sequence(s, i);
      if (n == 0) {
        out_ += "\\ufffd";  // one replacement per bad byte
        ++i;
        continue;
      }
      out_.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out_ += c;
    }
    ++i;
  }
  out_ += '"';
}

Writer& Writer::begin_object() {
  separate();
  out_ += '{';
  return *this;
}

Writer& Writer::end_object() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}

Writer& Writer::begin_array() {
  separate();
  out_ += '[';
  return *this;
}

Writer& Writer::end_array() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}

Writer& Writer::key(std::string_view k) {
  separate();
  quote(k);
  out_ += ':';
  return *this;
}

Writer& Writer::value(std::string_view s) {
  separate();
  quote(s);
  need_comma_ = true;
  return *this;
}

Writer& Writer::value(std::int64_t n) {
  separate();
  out_ += std::to_string(n);
  need_comma_ = true;
  return *this;
}

Writer& Writer::value(std::uint64_t n) {
  separate();
  out_ += std::to_string(n);
  need_comma_ = true;
  return *this;
}

Writer& Writer::value(bool b) {
  separate();
  out_ += b ? "true" : "false";
  need_comma_ = true;
  return *this;
}

Writer& Writer::value(double d) {
  if (!std::isfinite(d)) return null();
  separate();
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  out_ += buf;
  need_comma_ = true;
  return *this;
}

Writer& Writer::null() {
  separate();
  out_ += "null";
  need_comma_ = true;
  return *this;
}

}  // namespace rz::json
