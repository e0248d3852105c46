// The printf engine (kernel/libc/format.cpp) against the host's glibc
// snprintf: fixed tables of formats and values, truncation, and randomized
// integers and doubles.
#include "kernel/libc/format.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Collected {
  std::string text;
  int calls = 0;
  bool empty_call = false;
};

void collect(void* ctx, const char* data, std::size_t len) {
  auto* c = static_cast<Collected*>(ctx);
  c->text.append(data, len);
  ++c->calls;
  if (len == 0) c->empty_call = true;
}

struct Result {
  std::string text;
  int ret;
  bool operator==(const Result&) const = default;
};

// The engine under test, through vformat() and vsnprintf(), which must agree.
Result ours(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Collected c;
  int n = rz::libc::vformat(collect, &c, fmt, ap);
  va_end(ap);
  CHECK_FALSE(c.empty_call);
  CHECK(n == int(c.text.size()));
  std::vector<char> buf(c.text.size() + 1, 'x');
  va_start(ap, fmt);
  int m = rz::libc::vsnprintf(buf.data(), buf.size(), fmt, ap);
  va_end(ap);
  CHECK(m == n);
  CHECK(std::string(buf.data(), c.text.size()) == c.text);
  CHECK(buf[c.text.size()] == '\0');
  return {c.text, n};
}

Result host(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::vector<char> buf(n < 0 ? 1 : std::size_t(n) + 1);
  va_start(ap, fmt);
  std::vsnprintf(buf.data(), buf.size(), fmt, ap);
  va_end(ap);
  return {std::string(buf.data(), n < 0 ? 0 : std::size_t(n)), n};
}

int our_snprintf(char* buf, std::size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = rz::libc::vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

int our_format(rz::libc::Sink sink, void* ctx, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = rz::libc::vformat(sink, ctx, fmt, ap);
  va_end(ap);
  return n;
}

int mismatches = 0;

// Compares one format and its arguments; reports the first mismatches in full.
template <typename... T>
void compare(const std::string& fmt, T... args) {
  Result expected = host(fmt.c_str(), args...);
  Result actual = ours(fmt.c_str(), args...);
  if (expected == actual) return;
  if (++mismatches <= 20) {
    FAIL_CHECK("format \"" << fmt << "\": glibc \"" << expected.text << "\" (" << expected.ret
                           << "), ours \"" << actual.text << "\" (" << actual.ret << ")");
  } else {
    FAIL_CHECK("format mismatch");
  }
}

const char* const flag_sets[] = {"", "-", "+", " ", "#", "0", "-+", "+0", " 0", "#0", "-#", "- 0#"};

std::string with_spec(const char* flags, const std::string& width, const std::string& precision,
                      const std::string& length, char conv) {
  return "[%" + std::string(flags) + width + precision + length + conv + "]";
}

const char* const int_lengths[] = {"hh", "h", "", "l", "ll", "z", "j", "t"};

// Passes v as the type the length modifier expects.
void compare_int(const std::string& fmt, const std::string& length, long long v) {
  if (length == "l")
    compare(fmt, long(v));
  else if (length == "ll")
    compare(fmt, v);
  else if (length == "z")
    compare(fmt, std::size_t(v));
  else if (length == "j")
    compare(fmt, std::intmax_t(v));
  else if (length == "t")
    compare(fmt, std::ptrdiff_t(v));
  else
    compare(fmt, int(v));
}

// glibc drops the zeros %#g must keep when rounding carries into a new digit
// ("%#.2g" of 99.5 gives "1.e+02", not "1.0e+02"), so %#g is checked against
// C's definition of it in terms of glibc's %#e and %#f.
void compare_alt_g(const char* flags, const char* width, const char* precision, char conv,
                   double v) {
  int p = 6;
  if (precision[0] == '.') p = std::atoi(precision + 1);
  if (p == 0) p = 1;
  char exp_text[128];
  std::snprintf(exp_text, sizeof(exp_text), "%.*e", p - 1, v);
  const char* e = std::strchr(exp_text, 'e');
  int x = e ? std::atoi(e + 1) : 0;
  bool fixed = x < p && x >= -4;
  std::string spec = std::string("[%") + flags + width + "." +
                     std::to_string(fixed ? p - 1 - x : p - 1) +
                     (fixed ? (conv == 'G' ? 'F' : 'f') : (conv == 'G' ? 'E' : 'e')) + "]";
  Result expected = host(spec.c_str(), v);
  Result actual = ours(with_spec(flags, width, precision, "", conv).c_str(), v);
  if (expected == actual) return;
  if (++mismatches <= 20)
    FAIL_CHECK((std::string("%") + flags + width + precision + conv + " of " + std::to_string(v) +
                ": expected \"" + expected.text + "\", ours \"" + actual.text + "\""));
}

}  // namespace

TEST_CASE("format: integers match glibc over flags, widths, precisions and lengths") {
  mismatches = 0;
  const long long values[] = {0,
                              1,
                              -1,
                              7,
                              -8,
                              42,
                              -42,
                              255,
                              256,
                              4095,
                              32767,
                              -32768,
                              65535,
                              65536,
                              2147483647,
                              -2147483647LL - 1,
                              4294967295LL,
                              1234567890123LL,
                              LLONG_MAX,
                              LLONG_MIN,
                              -1234567890123LL};
  const char* const widths[] = {"", "1", "6", "25"};
  const char* const precisions[] = {"", ".", ".0", ".1", ".4", ".22"};
  for (const char* flags : flag_sets)
    for (const char* width : widths)
      for (const char* precision : precisions)
        for (const char* length : int_lengths)
          for (char conv : {'d', 'i', 'u', 'o', 'x', 'X'})
            for (long long v : values)
              compare_int(with_spec(flags, width, precision, length, conv), length, v);
  CHECK(mismatches == 0);
}

TEST_CASE("format: star width and precision") {
  mismatches = 0;
  for (int width : {-12, -1, 0, 3, 10})
    for (int precision : {-5, -1, 0, 2, 8}) {
      compare("[%*.*d]", width, precision, 123);
      compare("[%-*.*x]", width, precision, 0xbeef);
      compare("[%0*.*f]", width, precision, 3.14159);
      compare("[%*.*s]", width, precision, "string");
      compare("[%*.*e]", width, precision, -2.5e-10);
    }
  compare("%.*s|%s", 3, "abcdef", "next");
  CHECK(mismatches == 0);
}

TEST_CASE("format: characters, strings, pointers and percent") {
  mismatches = 0;
  for (const char* flags : {"", "-", "0", "#"})
    for (const char* width : {"", "1", "4", "10"})
      for (const char* precision : {"", ".0", ".2", ".5", ".6", ".9"}) {
        std::string base = std::string("[%") + flags + width + precision;
        compare(base + "s]", "hello");
        compare(base + "s]", "");
        compare(base + "s]", static_cast<const char*>(nullptr));
        compare(base + "ls]", L"wide");
        compare(base + "ls]", static_cast<const wchar_t*>(nullptr));
        compare(std::string("[%") + flags + width + "c]", 'z');
        compare(std::string("[%") + flags + width + "lc]", wint_t('W'));
      }
  for (const char* spec : {"%p", "%20p", "%-20p", "%020p", "%+p", "% p", "%#p", "%.5p", "%.20p"}) {
    compare(spec, static_cast<void*>(nullptr));
    compare(spec, reinterpret_cast<void*>(0x12));
    compare(spec, reinterpret_cast<void*>(0xffff800000001000ull));
  }
  compare("100%% sure");
  CHECK(ours("%5%|%-5%|") ==
        Result{"%|%|", 4});  // glibc ignores the width (ASan's printf would warn)
  compare("no conversions at all");
  compare("");
  compare("%c%c%c", 'a', 0, 'b');  // an embedded NUL counts and is written
  CHECK(mismatches == 0);
}

TEST_CASE("format: what glibc does not define the same way") {
  mismatches = 0;
  int target = 77;
  CHECK(ours("a%nb", &target) == Result{"ab", 2});
  CHECK(target == 77);  // %n writes nothing
  CHECK(ours("%lc|%ls", wint_t(0xe9), L"caf\u00e9") == Result{"?|caf?", 6});
  CHECK(ours("%y|%5k|%") == Result{"%y|%5k|%", 8});
  CHECK(ours("%hhd %hhu", 300, -1) == Result{"44 255", 6});
}

TEST_CASE("format: doubles match glibc over flags, widths and precisions") {
  mismatches = 0;
  const double values[] = {0.0,
                           -0.0,
                           1.0,
                           -1.0,
                           0.5,
                           1.5,
                           2.5,
                           -2.5,
                           0.125,
                           0.05,
                           0.15,
                           0.25,
                           0.35,
                           2.675,
                           4.35,
                           9.5,
                           99.5,
                           9.95,
                           9.9999995,
                           999999.5,
                           0.1,
                           0.2,
                           0.3,
                           1.0 / 3,
                           2.0 / 3,
                           M_PI,
                           -M_E,
                           1234.5678,
                           1e-5,
                           5e-5,
                           0.0001,
                           0.00001234,
                           123456789.0,
                           1e15,
                           1e16,
                           1e21,
                           1e22,
                           1e23,
                           9007199254740993.0,
                           1e100,
                           -1e300,
                           1e-300,
                           DBL_MAX,
                           -DBL_MAX,
                           DBL_MIN,
                           DBL_TRUE_MIN,
                           2.2250738585072009e-308,
                           HUGE_VAL,
                           -HUGE_VAL,
                           NAN,
                           -NAN};
  const char* const widths[] = {"", "8", "30"};
  const char* const precisions[] = {"",   ".",   ".0",  ".1",  ".2", ".3",
                                    ".6", ".10", ".17", ".30", ".60"};
  for (const char* flags : flag_sets)
    for (const char* width : widths)
      for (const char* precision : precisions)
        for (char conv : {'f', 'F', 'e', 'E', 'g', 'G', 'a', 'A'})
          for (double v : values) {
            if (std::strchr(flags, '#') && (conv == 'g' || conv == 'G'))
              compare_alt_g(flags, width, precision, conv, v);
            else
              compare(with_spec(flags, width, precision, "", conv), v);
          }
  CHECK(mismatches == 0);
}

TEST_CASE("format: long double is printed as the double it converts to") {
  mismatches = 0;
  const std::pair<const char*, const char*> specs[] = {
      {"%Lf", "%f"}, {"%.3Le", "%.3e"}, {"%Lg", "%g"}, {"%20.10LG", "%20.10G"}, {"%La", "%a"}};
  for (long double v : {0.0L, 1.5L, -2.25e-10L, 1e300L, 3.0L})
    for (auto [with_l, without_l] : specs) CHECK(ours(with_l, v) == host(without_l, double(v)));
}

TEST_CASE("format: exact expansions of extreme doubles") {
  mismatches = 0;
  compare("%.1100f", DBL_TRUE_MIN);
  compare("%.1100f", -DBL_MIN);
  compare("%.800e", DBL_TRUE_MIN);
  compare("%f", DBL_MAX);
  compare("%.5000f|%-3000.2000g|", 1e-7, 1.0 / 7);
  compare("%#.0f %#.0e %#g %#.3g %#G", 1.0, 1.0, 1.0, 100000.0, 0.0);
  CHECK(ours("%#.2g|%#g", 99.5, 999999.5) == Result{"1.0e+02|1.00000e+06", 19});
  CHECK(mismatches == 0);
}

TEST_CASE("format: vsnprintf truncates, terminates and returns the full length") {
  mismatches = 0;
  struct Case {
    const char* fmt;
    double d;
    long long i;
  };
  const Case cases[] = {{"%s|%d|%.3f", 0, 0}, {"%lld", 0, -1234567890123}, {"x%.10e", 6.02e23, 0}};
  for (const Case& c : cases) {
    for (std::size_t size = 0; size < 48; ++size) {
      std::vector<char> mine(size + 4, '#'), theirs(size + 4, '#');
      int a, b;
      if (c.fmt[0] == '%' && c.fmt[1] == 's') {
        a = our_snprintf(mine.data(), size, c.fmt, "text", 12345, c.d);
        b = std::snprintf(theirs.data(), size, c.fmt, "text", 12345, c.d);
      } else if (c.fmt[1] == 'l') {
        a = our_snprintf(mine.data(), size, c.fmt, c.i);
        b = std::snprintf(theirs.data(), size, c.fmt, c.i);
      } else {
        a = our_snprintf(mine.data(), size, c.fmt, c.d);
        b = std::snprintf(theirs.data(), size, c.fmt, c.d);
      }
      CHECK(a == b);
      CHECK(mine == theirs);  // same bytes, including the NUL and nothing past it
    }
  }
  CHECK(our_snprintf(nullptr, 0, "%d%s", 42, "abc") == 5);
}

TEST_CASE("format: output reaches the sink in batches") {
  mismatches = 0;
  std::string big(1000, 'q');
  Collected c;
  CHECK(our_format(collect, &c, "%s|%1000d|%.500f", big.c_str(), 7, 0.5) == 2504);
  CHECK(c.text.size() == 2504);
  CHECK(c.calls < 25);
  CHECK_FALSE(c.empty_call);
  Collected none;
  CHECK(our_format(collect, &none, "") == 0);
  CHECK(none.calls == 0);
}

TEST_CASE("format: random integers match glibc") {
  mismatches = 0;
  std::mt19937_64 rng(12345);
  const char* const specs[] = {"%d",   "%-+12d", "% 020i", "%.15x",  "%#o",   "%#X",
                               "%08u", "%+.0d",  "%#.3o",  "%-#20x", "%5.3d", "%0#30X"};
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t bits = rng() >> (rng() % 64);
    long long v = (rng() & 1) ? -static_cast<long long>(bits) : static_cast<long long>(bits);
    const char* spec = specs[rng() % std::size(specs)];
    const char* length = int_lengths[rng() % std::size(int_lengths)];
    std::string fmt(spec);
    fmt.insert(fmt.size() - 1, length);
    compare_int(fmt, length, v);
    if (mismatches > 20) break;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("format: random doubles match glibc") {
  mismatches = 0;
  std::mt19937_64 rng(67890);
  std::uniform_int_distribution<int> precision(0, 25);
  const char convs[] = {'f', 'e', 'g', 'E', 'G', 'a'};
  for (int i = 0; i < 100000; ++i) {
    double v;
    switch (i % 3) {
      case 0:  // any bit pattern: subnormals, huge values, inf and nan included
        v = std::bit_cast<double>(rng());
        break;
      case 1:  // human-sized decimals, where ties in the last digit are common
        v = double(std::int64_t(rng() % 2000001) - 1000000) / std::pow(10.0, double(rng() % 8));
        break;
      default:  // numbers of every size near the middle of the exponent range
        v = std::ldexp(double(rng() >> 11), int(rng() % 200) - 150);
        break;
    }
    char conv = convs[rng() % std::size(convs)];
    std::string fmt = "%." + std::to_string(precision(rng)) + conv;
    compare(fmt, v);
    compare(std::string("%") + conv, v);
    if (mismatches > 20) break;
  }
  CHECK(mismatches == 0);
}
