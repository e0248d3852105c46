// The kernel's C library algorithms (kernel/libc/stdlib.cpp and string.cpp)
// against the host's glibc: number parsing with errno and endptr, sorting
// and searching, and the string functions.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernel/libc/stdlib.hpp"
#include "kernel/libc/string.hpp"

namespace {

// What a strto* call did: the value (as bits for floats), errno, and where
// it stopped.
template <typename T>
struct Outcome {
  T value;
  int error;
  long consumed;
  bool operator==(const Outcome&) const = default;
};

template <typename T>
doctest::String describe(const Outcome<T>& o) {
  return (std::to_string(o.value) + " errno " + std::to_string(o.error) + " consumed " +
          std::to_string(o.consumed))
      .c_str();
}

template <typename T, typename F>
Outcome<T> run_integer(F parse, const char* s, int base) {
  char* end = nullptr;
  errno = 0;
  T v = parse(s, &end, base);
  return {v, errno, end ? long(end - s) : -1};
}

template <typename F>
Outcome<std::uint64_t> run_double(F parse, const char* s) {
  char* end = nullptr;
  errno = 0;
  double v = parse(s, &end);
  return {std::bit_cast<std::uint64_t>(v), errno, long(end - s)};
}

template <typename F>
Outcome<std::uint32_t> run_float(F parse, const char* s) {
  char* end = nullptr;
  errno = 0;
  float v = parse(s, &end);
  return {std::bit_cast<std::uint32_t>(v), errno, long(end - s)};
}

int mismatches = 0;

void compare_double(const std::string& s) {
  auto expected = run_double(static_cast<double (*)(const char*, char**)>(std::strtod), s.c_str());
  auto actual = run_double(rz::libc::strtod, s.c_str());
  if (expected == actual) return;
  if (++mismatches <= 20)
    FAIL_CHECK(("strtod(\"" + s.substr(0, 200) + "\"): glibc " + describe(expected).c_str() +
                ", ours " + describe(actual).c_str()));
}

void compare_float(const std::string& s) {
  auto expected = run_float(static_cast<float (*)(const char*, char**)>(std::strtof), s.c_str());
  auto actual = run_float(rz::libc::strtof, s.c_str());
  if (expected == actual) return;
  if (++mismatches <= 20)
    FAIL_CHECK(("strtof(\"" + s.substr(0, 200) + "\"): glibc " + describe(expected).c_str() +
                ", ours " + describe(actual).c_str()));
}

std::string printed(const char* fmt, double v) {
  char buf[1200];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string printed_long(const char* fmt, long double v) {
  char buf[1200];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

int sign(int v) {
  return (v > 0) - (v < 0);
}

}  // namespace

// ---- strto* for integers -------------------------------------------------------------

TEST_CASE("strtol family: glibc's value, errno and endptr for every base") {
  const char* const inputs[] = {"",
                                "   ",
                                "0",
                                "-0",
                                "+0",
                                "42",
                                "  -42abc",
                                "\t\n\v\f\r +17",
                                "0x1f",
                                "0X1F",
                                "0x",
                                "0xg",
                                "-0x10",
                                "  0x 5",
                                "010",
                                "08",
                                "0b101",
                                "z",
                                "Z9",
                                "+-1",
                                "- 1",
                                " +",
                                "12 34",
                                "ff",
                                "-ff",
                                "zz",
                                "ZZZZZZZZZZZZZZ",
                                "2147483647",
                                "2147483648",
                                "-2147483649",
                                "4294967296",
                                "9223372036854775807",
                                "9223372036854775808",
                                "-9223372036854775808",
                                "-9223372036854775809",
                                "18446744073709551615",
                                "18446744073709551616",
                                "-18446744073709551615",
                                "-18446744073709551616",
                                "99999999999999999999999999",
                                "-99999999999999999999999999x",
                                "777777777777777777777777",
                                "1777777777777777777777",
                                "2000000000000000000000",
                                "0x7fffffffffffffff",
                                "0x8000000000000000",
                                "0xffffffffffffffff",
                                "0x10000000000000000",
                                "-0x8000000000000000",
                                "1111111111111111111111111111111111111111111111111111111111111111",
                                "11111111111111111111111111111111111111111111111111111111111111111",
                                "3w5e11264sgsf",
                                "3w5e11264sgsg"};
  for (int base : {0, 2, 8, 10, 16, 36, 7}) {
    for (const char* s : inputs) {
      CAPTURE(s);
      CAPTURE(base);
      CHECK(run_integer<long>(rz::libc::strtol, s, base) ==
            run_integer<long>(std::strtol, s, base));
      CHECK(run_integer<long long>(rz::libc::strtoll, s, base) ==
            run_integer<long long>(std::strtoll, s, base));
      CHECK(run_integer<unsigned long>(rz::libc::strtoul, s, base) ==
            run_integer<unsigned long>(std::strtoul, s, base));
      CHECK(run_integer<unsigned long long>(rz::libc::strtoull, s, base) ==
            run_integer<unsigned long long>(std::strtoull, s, base));
    }
  }
}

TEST_CASE("strtol family: an invalid base is EINVAL, with endptr at the start") {
  for (int base : {-1, 1, 37, 100}) {
    const char* s = "123";
    char* end = nullptr;
    errno = 0;
    CHECK(rz::libc::strtol(s, &end, base) == 0);
    CHECK(errno == EINVAL);
    CHECK(end == s);
    errno = 0;
    CHECK(rz::libc::strtoull(s, nullptr, base) == 0);
    CHECK(errno == EINVAL);
  }
}

TEST_CASE("strtol family: random numbers in random bases round-trip like glibc") {
  std::mt19937_64 rng(2024);
  const char digit_set[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (int i = 0; i < 100000; ++i) {
    int base = int(rng() % 35) + 2;
    std::string s(rng() % 3, ' ');
    if (rng() % 3 == 0) s += (rng() & 1) ? '-' : '+';
    int len = int(rng() % 70) + 1;
    for (int k = 0; k < len; ++k) {
      char c = digit_set[rng() % base];
      s += (rng() & 1) ? char(std::toupper(c)) : c;
    }
    if (rng() & 1) s += digit_set[rng() % 36];  // maybe a stop character
    CAPTURE(s);
    CAPTURE(base);
    auto a = run_integer<long>(rz::libc::strtol, s.c_str(), base);
    auto b = run_integer<long>(std::strtol, s.c_str(), base);
    auto c = run_integer<unsigned long long>(rz::libc::strtoull, s.c_str(), base);
    auto d = run_integer<unsigned long long>(std::strtoull, s.c_str(), base);
    if (!(a == b) || !(c == d)) {
      CHECK(a == b);
      CHECK(c == d);
      break;
    }
  }
}

// ---- strtod and strtof ---------------------------------------------------------------

TEST_CASE("strtod: special forms, limits and endptr") {
  mismatches = 0;
  const char* const inputs[] = {"0",
                                "-0",
                                "+0.0e10",
                                "1",
                                "  -.5e-1x",
                                ".5",
                                "5.",
                                ".",
                                ".e1",
                                "e5",
                                "1e",
                                "1e+",
                                "1e-x",
                                "1.5E+3",
                                "0x",
                                "0x.p1",
                                "0x1.8p1",
                                "0X1P-2",
                                "0x.8",
                                "0x1.fffffffffffff8p1023",
                                "0x1.fffffffffffff7p1023",
                                "0x1p-1074",
                                "0x1p-1075",
                                "0x1.0000000000001p-1075",
                                "0x1.8p-1074",
                                "0x0.0000000000001p-1022",
                                "0x123456789abcdef0123p0",
                                "0x1.00000000000008p0",
                                "0x1.000000000000080000000001p0",
                                "0x1.00000000000018p0",
                                "-0x1p+99999999999",
                                "0x1p-99999999999",
                                "inf",
                                "-INF",
                                "infinity",
                                "InFiNiTyX",
                                "infinit",
                                "nan",
                                "-nan",
                                "NaN(123abc_)",
                                "nan(12",
                                "nan()",
                                "1e-310",
                                "4.9406564584124654e-324",
                                "2.4703282292062327e-324",
                                "2.4703282292062328e-324",
                                "2.2250738585072014e-308",
                                "2.2250738585072011e-308",
                                "2.2250738585072012e-308",
                                "1e-400",
                                "1e400",
                                "-1e400",
                                "1.7976931348623157e308",
                                "1.7976931348623158e308",
                                "1.7976931348623159e308",
                                "179769313486231580793728971405301e276",
                                "1e22",
                                "1e23",
                                "9007199254740993",
                                "9007199254740992.5",
                                "123456789012345678901234567890",
                                "0.000000000000000000000000000000000000001",
                                "00000000000000000000000000000000000000012.5e-1",
                                "1e99999999999999999999",
                                "1e-99999999999999999999",
                                "0e99999",
                                "0.0000e-99999",
                                "3.14159265358979323846264338327950288",
                                "2.718281828459045235360287471352662497757",
                                "0.1",
                                "0.2",
                                "0.3"};
  for (const char* s : inputs) {
    compare_double(s);
    compare_float(s);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("strtod: random doubles printed in many ways") {
  mismatches = 0;
  std::mt19937_64 rng(99);
  const char* const formats[] = {"%.17g", "%.16g", "%.15g", "%.20e",
                                 "%.40g", "%a",    "%.3a",  "%.10f"};
  for (int i = 0; i < 30000 && mismatches <= 20; ++i) {
    double v = std::bit_cast<double>(rng());
    if (!std::isfinite(v)) continue;
    for (const char* f : formats) compare_double(printed(f, v));
  }
  CHECK(mismatches == 0);
}

TEST_CASE("strtod: random decimal strings over the whole exponent range") {
  mismatches = 0;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000 && mismatches <= 20; ++i) {
    std::string s;
    int digits = int(rng() % 40) + 1;
    int point = int(rng() % (digits + 1));
    for (int k = 0; k < digits; ++k) {
      if (k == point) s += '.';
      s += char('0' + rng() % 10);
    }
    s += 'e' + std::to_string(int(rng() % 700) - 360);
    compare_double(s);
    compare_float(s);
  }
  CHECK(mismatches == 0);
}

TEST_CASE("strtod: exact midpoints between neighbours round to even") {
  mismatches = 0;
  std::mt19937_64 rng(31337);
  for (int i = 0; i < 3000 && mismatches <= 20; ++i) {
    double v = std::bit_cast<double>(rng() >> 1);
    if (!std::isfinite(v) || v == 0) continue;
    // The midpoint needs 54 bits: exact in long double (64-bit mantissa).
    long double mid = (static_cast<long double>(v) + std::nextafter(v, HUGE_VAL)) / 2;
    std::string exact = printed_long("%.1000Le", mid);
    std::string mantissa = exact.substr(0, exact.find('e'));
    std::string exponent = exact.substr(exact.find('e'));
    mantissa.erase(mantissa.find_last_not_of('0') + 1);  // ends in 5: the midpoint's odd last bit
    compare_double(mantissa + exponent);
    // Just above and just below the midpoint, in the digits far past 800.
    compare_double(mantissa + std::string(900, '0') + "1" + exponent);
    std::string below = mantissa;
    --below.back();
    compare_double(below + std::string(900, '9') + exponent);
  }
  for (int i = 0; i < 3000 && mismatches <= 20; ++i) {
    float v = std::bit_cast<float>(std::uint32_t(rng() >> 33));
    if (!std::isfinite(v) || v == 0) continue;
    double mid = (double(v) + double(std::nextafter(v, HUGE_VALF))) / 2;
    compare_float(printed("%.200e", mid));
  }
  CHECK(mismatches == 0);
}

TEST_CASE("strtod: the longest mantissas at the ends of the exponent range") {
  mismatches = 0;
  std::mt19937_64 rng(11);
  for (int digits : {1, 19, 20, 767, 800, 801, 802, 1500}) {
    for (int point : {-331, -330, -329, -324, -323, -308, -307, 0, 308, 309, 310, 311}) {
      for (int trial = 0; trial < 4; ++trial) {
        // 0.d1d2... x 10^point, written as d1.d2... e(point - 1)
        std::string s(1, char('1' + rng() % 9));
        s += '.';
        for (int k = 1; k < digits; ++k) s += char('0' + rng() % 10);
        s += 'e' + std::to_string(point - 1);
        compare_double(s);
        compare_float(s);
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("strtof: random floats printed in many ways") {
  mismatches = 0;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 50000 && mismatches <= 20; ++i) {
    float v = std::bit_cast<float>(std::uint32_t(rng()));
    if (!std::isfinite(v)) continue;
    for (const char* f : {"%.9g", "%.8g", "%.12g", "%a", "%.30e"}) compare_float(printed(f, v));
  }
  CHECK(mismatches == 0);
}

// ---- qsort and bsearch -----------------------------------------------------------------

namespace {

struct Record {
  std::uint32_t key;
  std::uint32_t payload[2];
};

int compare_int(const void* a, const void* b) {
  int x = *static_cast<const int*>(a), y = *static_cast<const int*>(b);
  return (x > y) - (x < y);
}

long comparisons = 0;
int counting_compare(const void* a, const void* b) {
  ++comparisons;
  return compare_int(a, b);
}

}  // namespace

TEST_CASE("qsort: sorts like std::sort for many sizes, element sizes and patterns") {
  std::mt19937 rng(1);
  for (int n : {0, 1, 2, 3, 5, 16, 17, 18, 31, 100, 1000, 4099}) {
    for (int pattern = 0; pattern < 6; ++pattern) {
      std::vector<int> v(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        switch (pattern) {
          case 0:
            v[i] = int(rng());
            break;
          case 1:
            v[i] = i;
            break;
          case 2:
            v[i] = n - i;
            break;
          case 3:
            v[i] = 7;
            break;
          case 4:
            v[i] = i < n / 2 ? i : n - i;
            break;
          default:
            v[i] = int(rng() % 4);
            break;
        }
      }
      std::vector<int> expected = v;
      std::sort(expected.begin(), expected.end());
      rz::libc::qsort(v.data(), v.size(), sizeof(int), compare_int);
      CHECK(v == expected);

      // Bytes and odd-sized records exercise the element swap.
      std::vector<unsigned char> bytes(static_cast<std::size_t>(n));
      for (auto& b : bytes) b = static_cast<unsigned char>(rng());
      std::vector<unsigned char> sorted_bytes = bytes;
      std::sort(sorted_bytes.begin(), sorted_bytes.end());
      rz::libc::qsort(bytes.data(), bytes.size(), 1, [](const void* a, const void* b) {
        return int(*static_cast<const unsigned char*>(a)) - *static_cast<const unsigned char*>(b);
      });
      CHECK(bytes == sorted_bytes);

      std::vector<Record> records(static_cast<std::size_t>(n));
      for (auto& r : records) {
        r.key = rng() % 50;
        r.payload[0] = r.key * 3;
        r.payload[1] = ~r.key;
      }
      rz::libc::qsort(
          records.data(), records.size(), sizeof(Record), [](const void* a, const void* b) {
            auto x = static_cast<const Record*>(a)->key, y = static_cast<const Record*>(b)->key;
            return (x > y) - (x < y);
          });
      for (std::size_t i = 0; i < records.size(); ++i) {
        if (i) CHECK(records[i - 1].key <= records[i].key);
        CHECK(records[i].payload[0] == records[i].key * 3);  // moved whole
        CHECK(records[i].payload[1] == ~records[i].key);
      }
    }
  }
}

TEST_CASE("qsort: O(n log n) comparisons on adversarial inputs") {
  const int n = 1 << 16;
  const double bound = 4.0 * n * 16;  // 4 n log2 n
  std::vector<int> v(n);
  for (int pattern = 0; pattern < 5; ++pattern) {
    for (int i = 0; i < n; ++i) {
      switch (pattern) {
        case 0:
          v[i] = i;
          break;
        case 1:
          v[i] = n - i;
          break;
        case 2:
          v[i] = 1;
          break;
        case 3:
          v[i] = i < n / 2 ? i : n - i;
          break;
        default:
          v[i] = i % 2 ? i : n - i;
          break;
      }
    }
    comparisons = 0;
    rz::libc::qsort(v.data(), v.size(), sizeof(int), counting_compare);
    CAPTURE(pattern);
    CHECK(std::is_sorted(v.begin(), v.end()));
    CHECK(double(comparisons) < bound);
  }
}

TEST_CASE("qsort_r passes its context through") {
  std::vector<int> v = {5, 3, 9, 1, 7};
  int descending = -1;
  rz::libc::qsort_r(
      v.data(), v.size(), sizeof(int),
      [](const void* a, const void* b, void* ctx) {
        return *static_cast<int*>(ctx) * compare_int(a, b);
      },
      &descending);
  CHECK(v == std::vector<int>{9, 7, 5, 3, 1});
}

TEST_CASE("bsearch: finds every element and nothing else") {
  for (int n : {0, 1, 2, 7, 100}) {
    std::vector<int> v(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) v[i] = 2 * i;
    for (int key = -1; key <= 2 * n; ++key) {
      auto* found =
          static_cast<int*>(rz::libc::bsearch(&key, v.data(), v.size(), sizeof(int), compare_int));
      if (key >= 0 && key % 2 == 0 && key < 2 * n) {
        REQUIRE(found != nullptr);
        CHECK(*found == key);
      } else {
        CHECK(found == nullptr);
      }
    }
  }
}

TEST_CASE("rand_r: deterministic, in range, and roughly uniform") {
  unsigned a = 42, b = 42;
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    int x = rz::libc::rand_r(&a);
    CHECK(x == rz::libc::rand_r(&b));
    CHECK(x >= 0);
    CHECK(x <= RAND_MAX);
    sum += x;
  }
  CHECK(std::abs(sum / n / RAND_MAX - 0.5) < 0.01);
  unsigned c = 43;
  CHECK(rz::libc::rand_r(&c) != rz::libc::rand_r(&a));
}

// ---- string functions -----------------------------------------------------------------

TEST_CASE("memcpy, memmove and memset at every offset and length, overlapping too") {
  std::vector<unsigned char> src(700);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 3);
  for (std::size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 300}) {
    for (std::size_t from = 0; from < 12; ++from) {
      for (std::size_t to = 0; to < 12; ++to) {
        std::vector<unsigned char> ours(src), theirs(src);
        CHECK(rz::libc::memcpy(ours.data() + 350 + to, ours.data() + from, len) ==
              ours.data() + 350 + to);
        std::memcpy(theirs.data() + 350 + to, theirs.data() + from, len);
        CHECK(ours == theirs);

        // Overlapping both ways.
        ours = src;
        theirs = src;
        CHECK(rz::libc::memmove(ours.data() + 100 + to, ours.data() + 100 + from, len) ==
              ours.data() + 100 + to);
        std::memmove(theirs.data() + 100 + to, theirs.data() + 100 + from, len);
        CHECK(ours == theirs);

        ours = src;
        theirs = src;
        CHECK(rz::libc::memset(ours.data() + from, int(0x100 + to), len) == ours.data() + from);
        std::memset(theirs.data() + from, int(0x100 + to), len);
        CHECK(ours == theirs);
      }
    }
  }
}

TEST_CASE("memcmp, memchr, memrchr") {
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) {
    std::size_t len = rng() % 40;
    std::vector<unsigned char> a(len + 1), b(len + 1);
    for (std::size_t k = 0; k <= len; ++k)
      a[k] = b[k] = static_cast<unsigned char>(rng() % 3 ? 'a' : 0xf0);
    if (len && rng() % 2) b[rng() % len] = static_cast<unsigned char>(rng());
    CHECK(sign(rz::libc::memcmp(a.data(), b.data(), len)) ==
          sign(std::memcmp(a.data(), b.data(), len)));
    int c =
        rng() % 2 ? 'a' : 0xf0 + 0x100 * int(rng() % 3);  // int arguments convert to unsigned char
    CHECK(rz::libc::memchr(a.data(), c, len) == std::memchr(a.data(), c, len));
    CHECK(rz::libc::memrchr(a.data(), c, len) == memrchr(a.data(), c, len));
  }
}

TEST_CASE("string comparisons treat bytes as unsigned") {
  const char* const words[] = {"",  "a",         "ab",     "abc", "abd", "B",
                               "b", "\xe9t\xe9", "ab\xff", "AbC", "aBc", "abc\x80"};
  for (const char* x : words) {
    for (const char* y : words) {
      CAPTURE(x);
      CAPTURE(y);
      CHECK(sign(rz::libc::strcmp(x, y)) == sign(std::strcmp(x, y)));
      CHECK(sign(rz::libc::strcoll(x, y)) == sign(std::strcmp(x, y)));
      CHECK(sign(rz::libc::strcasecmp(x, y)) == sign(strcasecmp(x, y)));
      for (std::size_t n = 0; n < 5; ++n) {
        CHECK(sign(rz::libc::strncmp(x, y, n)) == sign(std::strncmp(x, y, n)));
        CHECK(sign(rz::libc::strncasecmp(x, y, n)) == sign(strncasecmp(x, y, n)));
      }
    }
  }
}

TEST_CASE("string lengths, copies and concatenation") {
  CHECK(rz::libc::strlen("") == 0);
  CHECK(rz::libc::strlen("hello") == 5);
  CHECK(rz::libc::strnlen("hello", 3) == 3);
  CHECK(rz::libc::strnlen("hello", 10) == 5);

  char buf[32];
  std::memset(buf, 'x', sizeof(buf));
  CHECK(rz::libc::strcpy(buf, "abc") == buf);
  CHECK(std::memcmp(buf, "abc\0x", 5) == 0);
  CHECK(rz::libc::stpcpy(buf, "hello") == buf + 5);
  CHECK(rz::libc::strcat(buf, ", world") == buf);
  CHECK(std::string(buf) == "hello, world");
  CHECK(rz::libc::strncat(buf, "!!!", 2) == buf);
  CHECK(std::string(buf) == "hello, world!!");
  rz::libc::strncat(buf, "", 5);
  CHECK(std::string(buf) == "hello, world!!");

  char ours[10], theirs[10];
  for (std::size_t n : {0, 2, 3, 4, 10}) {
    std::memset(ours, 'x', sizeof(ours));
    std::memset(theirs, 'x', sizeof(theirs));
    rz::libc::strncpy(ours, "abc", n);
    std::strncpy(theirs, "abc", n);
    CHECK(std::memcmp(ours, theirs, sizeof(ours)) == 0);  // padding with NULs included
  }

  char xfrm[8] = "zzzzzzz";
  CHECK(rz::libc::strxfrm(xfrm, "abc", sizeof(xfrm)) == 3);
  CHECK(std::string(xfrm) == "abc");
  CHECK(rz::libc::strxfrm(xfrm, "a long string", sizeof(xfrm)) == 13);

  char* d = rz::libc::strdup("copy me");
  CHECK(std::string(d) == "copy me");
  std::free(d);
  d = rz::libc::strndup("copy me", 4);
  CHECK(std::string(d) == "copy");
  std::free(d);
  d = rz::libc::strndup("ab", 4);
  CHECK(std::string(d) == "ab");
  std::free(d);
}

TEST_CASE("string searches") {
  const char* s = "hello, world; hello again";
  for (int c : {int('h'), int('o'), int('l'), int(';'), int('z'), 0, 'h' + 256}) {
    CHECK(rz::libc::strchr(s, c) == std::strchr(s, c));
    CHECK(rz::libc::strrchr(s, c) == std::strrchr(s, c));
  }
  for (const char* needle :
       {"", "h", "hello", "again", "lo, w", "hello!", "n", "xyz", "again and"}) {
    CAPTURE(needle);
    CHECK(rz::libc::strstr(s, needle) == std::strstr(s, needle));
  }
  CHECK(rz::libc::strstr("", "") == std::strstr("", ""));
  CHECK(rz::libc::strstr("aaab", "aab") == std::strstr("aaab", "aab"));
  for (const char* set : {"", "h", "leh", "; ", "xyz", "abcdefghijklmnopqrstuvwxyz"}) {
    CAPTURE(set);
    CHECK(rz::libc::strspn(s, set) == std::strspn(s, set));
    CHECK(rz::libc::strcspn(s, set) == std::strcspn(s, set));
    CHECK(rz::libc::strpbrk(s, set) == std::strpbrk(s, set));
  }
  CHECK(rz::libc::strspn("\xff\xfe", "\xfe\xff") == 2);
}

TEST_CASE("strerror: glibc's messages") {
  for (int e = -2; e < 140; ++e) {
    std::string expected = std::strerror(e);
    CAPTURE(e);
    CHECK(std::string(rz::libc::strerror(e)) == expected);
  }
  CHECK(std::string(rz::libc::strerror(INT_MIN)) == std::strerror(INT_MIN));
}
