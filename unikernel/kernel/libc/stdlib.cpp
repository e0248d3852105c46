// <stdlib.h> for the kernel: number parsing, sorting and searching,
// pseudo-random numbers, and the end of the program. The algorithms are in
// rz::libc (see stdlib.hpp); the C symbols are only built into the kernel.
#include "kernel/libc/stdlib.hpp"

#include <bit>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace rz::libc {
namespace {

bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The value of c as a digit in bases up to 36, or 36 if it is none.
int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 36;
}

// ---- integers ---------------------------------------------------------------------

struct ParsedInteger {
  unsigned long long magnitude = 0;
  bool negative = false;
  bool overflow = false;  // the magnitude exceeds unsigned long long
};

// The parsing shared by all strto*l: white space, sign, prefix, digits.
ParsedInteger parse_integer(const char* s, char** end, int base) {
  ParsedInteger r;
  const char* p = s;
  if (base < 0 || base == 1 || base > 36) {
    errno = EINVAL;
    if (end) *end = const_cast<char*>(s);
    return r;
  }
  while (is_space(*p)) ++p;
  if (*p == '+' || *p == '-') r.negative = *p++ == '-';
  // "0x" counts as a prefix only if a hex digit follows; otherwise the "0" is
  // the number and the "x" is where it ends.
  if ((base == 0 || base == 16) && p[0] == '0' && (p[1] | 0x20) == 'x' && digit_value(p[2]) < 16) {
    p += 2;
    base = 16;
  } else if (base == 0) {
    base = *p == '0' ? 8 : 10;
  }
  const char* digits = p;
  for (int d; (d = digit_value(*p)) < base; ++p) {
    if (__builtin_mul_overflow(r.magnitude, unsigned(base), &r.magnitude) ||
        __builtin_add_overflow(r.magnitude, unsigned(d), &r.magnitude))
      r.overflow = true;
  }
  // No digits: no conversion, and endptr is the string itself.
  if (end) *end = const_cast<char*>(p != digits ? p : s);
  return r;
}

template <typename T>
T to_signed(const char* s, char** end, int base) {
  ParsedInteger r = parse_integer(s, end, base);
  using U = std::make_unsigned_t<T>;
  U limit = r.negative ? U(std::numeric_limits<T>::max()) + 1 : U(std::numeric_limits<T>::max());
  if (r.overflow || r.magnitude > limit) {
    errno = ERANGE;
    return r.negative ? std::numeric_limits<T>::min() : std::numeric_limits<T>::max();
  }
  return r.negative ? T(U(0) - U(r.magnitude)) : T(r.magnitude);
}

// As C requires, a '-' negates the result in the unsigned type.
template <typename T>
T to_unsigned(const char* s, char** end, int base) {
  ParsedInteger r = parse_integer(s, end, base);
  if (r.overflow || r.magnitude > std::numeric_limits<T>::max()) {
    errno = ERANGE;
    return std::numeric_limits<T>::max();
  }
  return r.negative ? T(0) - T(r.magnitude) : T(r.magnitude);
}

// ---- floating point ---------------------------------------------------------------

// An unsigned integer of up to 4160 bits in 32-bit words, least significant
// first: room for 10^1131 shifted left by 64 bits (see decimal_to_float).
class Big {
 public:
  explicit Big(std::uint32_t v) {
    if (v) w_[n_++] = v;
  }

  bool is_zero() const { return n_ == 0; }

  int bit_length() const { return n_ ? 32 * n_ - std::countl_zero(w_[n_ - 1]) : 0; }

  // *this = *this * factor + add
  void mul_add(std::uint32_t factor, std::uint32_t add) {
    std::uint64_t carry = add;
    for (int i = 0; i < n_; ++i) {
      std::uint64_t x = std::uint64_t(w_[i]) * factor + carry;
      w_[i] = std::uint32_t(x);
      carry = x >> 32;
    }
    if (carry) w_[n_++] = std::uint32_t(carry);
  }

  void mul_pow10(int k) {
    static constexpr std::uint32_t pow10[] = {1,      10,      100,      1000,     10000,
                                              100000, 1000000, 10000000, 100000000};
    for (; k >= 9; k -= 9) mul_add(1000000000, 0);
    if (k) mul_add(pow10[k], 0);
  }

  void shift_left(int bits) {
    if (!n_) return;
    int words = bits / 32, rest = bits % 32;
    std::uint32_t top = rest ? w_[n_ - 1] >> (32 - rest) : 0;
    for (int i = n_ - 1; i >= 0; --i) {
      std::uint32_t below = rest && i > 0 ? w_[i - 1] >> (32 - rest) : 0;
      w_[i + words] = (w_[i] << rest) | below;
    }
    for (int i = 0; i < words; ++i) w_[i] = 0;
    n_ += words;
    if (top) w_[n_++] = top;
  }

  void shift_right_1() {
    for (int i = 0; i < n_; ++i) w_[i] = (w_[i] >> 1) | (i + 1 < n_ ? w_[i + 1] << 31 : 0);
    if (n_ && !w_[n_ - 1]) --n_;
  }

  // -1, 0 or 1 as *this is less than, equal to or greater than o.
  int compare(const Big& o) const {
    if (n_ != o.n_) return n_ < o.n_ ? -1 : 1;
    for (int i = n_ - 1; i >= 0; --i)
      if (w_[i] != o.w_[i]) return w_[i] < o.w_[i] ? -1 : 1;
    return 0;
  }

  // *this -= o, where o <= *this.
  void subtract(const Big& o) {
    std::uint64_t borrow = 0;
    for (int i = 0; i < n_; ++i) {
      std::uint64_t x = std::uint64_t(w_[i]) - (i < o.n_ ? o.w_[i] : 0) - borrow;
      w_[i] = std::uint32_t(x);
      borrow = x >> 63;
    }
    while (n_ && !w_[n_ - 1]) --n_;
  }

 private:
  std::uint32_t w_[130];
  int n_ = 0;
};

// A binary value m × 2^e, where sticky says that the exact value is a little
// more (by less than 2^e).
struct Binary {
  std::uint64_t m;
  int e;
  bool sticky;
};

// num / den to 64 significant bits, by long division.
Binary divide(Big& num, Big& den) {
  // Scale so the quotient is in [2^62, 2^64).
  int shift = 63 - (num.bit_length() - den.bit_length());
  if (shift >= 0)
    num.shift_left(shift);
  else
    den.shift_left(-shift);
  den.shift_left(63);
  std::uint64_t q = 0;
  for (int bit = 63; bit >= 0; --bit) {
    if (num.compare(den) >= 0) {
      num.subtract(den);
      q |= std::uint64_t(1) << bit;
    }
    den.shift_right_1();
  }
  return {q, -shift, !num.is_zero()};
}

template <typename F>
struct Traits;
template <>
struct Traits<double> {
  using Bits = std::uint64_t;
  static constexpr int fraction_bits = 52;
  static constexpr int bias = 1023;
  static constexpr std::uint64_t max_exact = std::uint64_t(1) << 53;
  static constexpr int max_exact_pow10 = 22;
};
template <>
struct Traits<float> {
  using Bits = std::uint32_t;
  static constexpr int fraction_bits = 23;
  static constexpr int bias = 127;
  static constexpr std::uint64_t max_exact = std::uint64_t(1) << 24;
  static constexpr int max_exact_pow10 = 10;
};

// Rounds b to F, half to even. range_error: the result overflowed, or the
// value is below the smallest normal number and the result inexact (as
// glibc: tininess before rounding).
template <typename F>
F round_binary(Binary b, bool& range_error) {
  using T = Traits<F>;
  constexpr int min_exponent = 1 - T::bias;  // of the smallest normal number
  if (!b.m) return F(0);
  int zeros = std::countl_zero(b.m);
  std::uint64_t m = b.m << zeros;
  int exponent = b.e - zeros + 63;  // the value is in [2^exponent, 2^(exponent + 1))
  if (exponent > T::bias) {
    range_error = true;
    return std::numeric_limits<F>::infinity();
  }
  // Keep fraction_bits + 1 bits, fewer for subnormals.
  int drop = 63 - T::fraction_bits;
  if (exponent < min_exponent) drop += min_exponent - exponent;
  std::uint64_t kept = 0;
  bool half = false, rest = true;  // beyond 64 bits only the sticky part is left
  if (drop <= 64) {
    kept = drop < 64 ? m >> drop : 0;
    half = (m >> (drop - 1)) & 1;
    rest = (drop > 1 && (m << (65 - drop)) != 0) || b.sticky;
  }
  if (half && (rest || (kept & 1))) ++kept;
  bool inexact = half || rest;
  typename T::Bits bits;
  if (exponent < min_exponent) {
    // A carry into bit fraction_bits makes it the smallest normal number.
    bits = typename T::Bits(kept);
    range_error = inexact;
  } else {
    if (kept >> (T::fraction_bits + 1)) {
      kept >>= 1;
      if (++exponent > T::bias) {
        range_error = true;
        return std::numeric_limits<F>::infinity();
      }
    }
    constexpr std::uint64_t fraction_mask = (std::uint64_t(1) << T::fraction_bits) - 1;
    bits = typename T::Bits((std::uint64_t(exponent + T::bias) << T::fraction_bits) |
                            (kept & fraction_mask));
  }
  return std::bit_cast<F>(bits);
}

// Decimal exponents beyond which every input overflows or underflows. Any
// value 0.d... × 10^p with p > 310 exceeds DBL_MAX, and with p < -330 is below
// half the smallest subnormal.
constexpr std::int64_t max_decimal_point = 310;
constexpr std::int64_t min_decimal_point = -330;

// Digits past this many cannot change the rounding except to break a tie
// (the midpoint between two doubles has at most 768 significant digits), so
// the rest only counts as "nonzero or not".
constexpr int max_digits = 800;

// A decimal mantissa [begin, end) (digits with at most one '.') whose first
// significant digit is at 10^(point - 1), rounded to F.
template <typename F>
F decimal_to_float(const char* begin, const char* end, std::int64_t point, std::int64_t digits,
                   std::uint64_t first_19, bool& range_error) {
  if (point > max_decimal_point) {
    range_error = true;
    return std::numeric_limits<F>::infinity();
  }
  if (point < min_decimal_point) {
    range_error = true;
    return F(0);
  }
  // Fast path: both factors exact in F, so one correctly rounded operation.
  static constexpr double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  std::int64_t scale = point - digits;
  if (digits <= 19 && first_19 <= Traits<F>::max_exact && scale >= -Traits<F>::max_exact_pow10 &&
      scale <= Traits<F>::max_exact_pow10) {
    F m = F(first_19);
    return scale >= 0 ? m * F(pow10[scale]) : m / F(pow10[-scale]);
  }

  // Exact: num / den with num the (first max_digits) digits as an integer.
  Big num(0);
  std::uint32_t chunk = 0;
  int chunk_len = 0, kept = 0;
  bool dropped = false, significant = false;
  for (const char* p = begin; p != end; ++p) {
    if (*p == '.' || (!significant && *p == '0')) continue;
    significant = true;
    if (kept == max_digits) {
      dropped |= *p != '0';
      continue;
    }
    chunk = chunk * 10 + std::uint32_t(*p - '0');
    ++kept;
    if (++chunk_len == 9) {
      num.mul_add(1000000000, chunk);
      chunk = 0;
      chunk_len = 0;
    }
  }
  num.mul_pow10(chunk_len);
  num.mul_add(1, chunk);
  if (dropped) {  // stands for the nonzero digits beyond max_digits
    num.mul_add(10, 1);
    ++kept;
  }
  std::int64_t exponent = point - kept;
  Big den(1);
  if (exponent > 0)
    num.mul_pow10(int(exponent));
  else
    den.mul_pow10(int(-exponent));
  return round_binary<F>(divide(num, den), range_error);
}

// Case-insensitive: does s start with the lower-case word?
bool starts_with_word(const char* s, const char* word) {
  for (; *word; ++s, ++word)
    if ((*s | 0x20) != *word) return false;
  return true;
}

// Saturates so absurd exponents still overflow or underflow, without UB.
std::int64_t parse_exponent(const char*& p) {
  const char* q = p + 1;
  bool negative = false;
  if (*q == '+' || *q == '-') negative = *q++ == '-';
  if (!is_digit(*q)) return 0;  // no exponent after all: "1e" is 1
  std::int64_t e = 0;
  for (; is_digit(*q); ++q) e = e < 100000000 ? e * 10 + (*q - '0') : e;
  p = q;
  return negative ? -e : e;
}

// "0x" hex digits, optionally a '.' and more, optionally p and an exponent.
template <typename F>
F hex_to_float(const char*& p, bool& range_error) {
  std::uint64_t m = 0;
  int digits = 0;
  std::int64_t exponent = 0;
  bool point = false, sticky = false;
  for (p += 2;; ++p) {
    int d = digit_value(*p);
    if (*p == '.' && !point) {
      point = true;
    } else if (d >= 16) {
      break;
    } else if (m == 0 && d == 0) {
      if (point) exponent -= 4;  // leading zeros
    } else if (digits < 16) {
      m = (m << 4) | unsigned(d);
      ++digits;
      if (point) exponent -= 4;
    } else {  // beyond 64 bits
      sticky |= d != 0;
      if (!point) exponent += 4;
    }
  }
  if ((*p | 0x20) == 'p') exponent += parse_exponent(p);
  if (exponent > 100000) exponent = 100000;
  if (exponent < -100000) exponent = -100000;
  return round_binary<F>({m, int(exponent), sticky}, range_error);
}

template <typename F>
F to_float(const char* s, char** end) {
  const char* p = s;
  while (is_space(*p)) ++p;
  bool negative = false;
  if (*p == '+' || *p == '-') negative = *p++ == '-';
  bool range_error = false;
  F value;
  if (starts_with_word(p, "inf")) {
    p += starts_with_word(p, "infinity") ? 8 : 3;
    value = std::numeric_limits<F>::infinity();
  } else if (starts_with_word(p, "nan")) {
    p += 3;
    if (*p == '(') {  // nan(n-char-sequence): the chars do not matter here
      const char* q = p + 1;
      while (digit_value(*q) < 36 || *q == '_') ++q;
      if (*q == ')') p = q + 1;
    }
    value = std::numeric_limits<F>::quiet_NaN();
  } else if (p[0] == '0' && (p[1] | 0x20) == 'x' &&
             (digit_value(p[2]) < 16 || (p[2] == '.' && digit_value(p[3]) < 16))) {
    value = hex_to_float<F>(p, range_error);
  } else {
    // Scan: count significant digits, find the point and the first 19 digits.
    const char* begin = p;
    std::uint64_t first_19 = 0;
    std::int64_t digits = 0, point = 0;
    bool any = false, seen_point = false;
    for (;; ++p) {
      if (is_digit(*p)) {
        any = true;
        if (digits == 0 && *p == '0') {
          if (seen_point) --point;
          continue;
        }
        if (digits < 19) first_19 = first_19 * 10 + std::uint64_t(*p - '0');
        ++digits;
        if (!seen_point) ++point;
      } else if (*p == '.' && !seen_point) {
        seen_point = true;
      } else {
        break;
      }
    }
    if (!any) {
      if (end) *end = const_cast<char*>(s);
      return F(0);
    }
    const char* mantissa_end = p;
    if ((*p | 0x20) == 'e') point += parse_exponent(p);
    value = digits ? decimal_to_float<F>(begin, mantissa_end, point, digits, first_19, range_error)
                   : F(0);
  }
  if (end) *end = const_cast<char*>(p);
  if (range_error) errno = ERANGE;
  return negative ? -value : value;
}

// ---- sorting ----------------------------------------------------------------------

void swap_elements(char* a, char* b, std::size_t size) {
  for (; size >= 8; size -= 8, a += 8, b += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    std::memcpy(a, &y, 8);
    std::memcpy(b, &x, 8);
  }
  for (; size; --size, ++a, ++b) {
    char t = *a;
    *a = *b;
    *b = t;
  }
}

struct Sorter {
  std::size_t size;
  CompareWith compare;
  void* ctx;

  char* at(char* base, std::size_t i) const { return base + i * size; }
  bool less(const char* a, const char* b) const { return compare(a, b, ctx) < 0; }
  void swap(char* a, char* b) const { swap_elements(a, b, size); }

  void insertion_sort(char* base, std::size_t n) const {
    for (std::size_t i = 1; i < n; ++i)
      for (std::size_t j = i; j > 0 && less(at(base, j), at(base, j - 1)); --j)
        swap(at(base, j), at(base, j - 1));
  }

  void sift_down(char* base, std::size_t root, std::size_t n) const {
    for (std::size_t child; (child = 2 * root + 1) < n; root = child) {
      if (child + 1 < n && less(at(base, child), at(base, child + 1))) ++child;
      if (!less(at(base, root), at(base, child))) return;
      swap(at(base, root), at(base, child));
    }
  }

  void heap_sort(char* base, std::size_t n) const {
    for (std::size_t i = n / 2; i > 0; --i) sift_down(base, i - 1, n);
    for (std::size_t end = n - 1; end > 0; --end) {
      swap(base, at(base, end));
      sift_down(base, 0, end);
    }
  }

  // Quicksort (median of three, Hoare partition) down to short runs,
  // heapsort when the recursion gets too deep; recursing only into the
  // smaller part bounds the stack to log2(n) frames.
  void sort(char* base, std::size_t n, int depth_left) const {
    while (n > 16) {
      if (depth_left-- == 0) return heap_sort(base, n);
      char* lo = base;
      char* mid = at(base, n / 2);
      char* hi = at(base, n - 1);
      if (less(mid, lo)) swap(mid, lo);
      if (less(hi, mid)) {
        swap(hi, mid);
        if (less(mid, lo)) swap(mid, lo);
      }
      swap(lo, mid);  // the pivot waits at lo
      char* i = lo + size;
      char* j = hi;
      for (;; i += size, j -= size) {
        while (i < hi && less(i, lo)) i += size;
        while (j > lo && less(lo, j)) j -= size;
        if (i >= j) break;
        swap(i, j);
      }
      swap(lo, j);
      std::size_t left = std::size_t(j - base) / size;
      std::size_t right = n - left - 1;
      if (left < right) {
        sort(base, left, depth_left);
        base = j + size;
        n = right;
      } else {
        sort(j + size, right, depth_left);
        n = left;
      }
    }
    insertion_sort(base, n);
  }
};

}  // namespace

long strtol(const char* s, char** end, int base) noexcept {
  return to_signed<long>(s, end, base);
}
long long strtoll(const char* s, char** end, int base) noexcept {
  return to_signed<long long>(s, end, base);
}
unsigned long strtoul(const char* s, char** end, int base) noexcept {
  return to_unsigned<unsigned long>(s, end, base);
}
unsigned long long strtoull(const char* s, char** end, int base) noexcept {
  return to_unsigned<unsigned long long>(s, end, base);
}
double strtod(const char* s, char** end) noexcept {
  return to_float<double>(s, end);
}
float strtof(const char* s, char** end) noexcept {
  return to_float<float>(s, end);
}

void qsort_r(void* base, std::size_t count, std::size_t size, CompareWith compare, void* ctx) {
  if (count < 2 || size == 0) return;
  Sorter{size, compare, ctx}.sort(static_cast<char*>(base), count,
                                  2 * (63 - std::countl_zero(std::uint64_t(count))));
}

void qsort(void* base, std::size_t count, std::size_t size, Compare compare) {
  qsort_r(
      base, count, size,
      [](const void* a, const void* b, void* ctx) { return (*static_cast<Compare*>(ctx))(a, b); },
      &compare);
}

void* bsearch(const void* key, const void* base, std::size_t count, std::size_t size,
              Compare compare) {
  auto* lo = static_cast<const char*>(base);
  while (count) {
    const char* mid = lo + (count / 2) * size;
    int c = compare(key, mid);
    if (c == 0) return const_cast<char*>(mid);
    if (c > 0) {
      lo = mid + size;
      count -= count / 2 + 1;
    } else {
      count /= 2;
    }
  }
  return nullptr;
}

// Two steps of the classic ANSI C linear congruential generator, keeping
// the better high bits of each.
int rand_r(unsigned* seed) noexcept {
  unsigned x = *seed * 1103515245u + 12345u;
  unsigned y = x * 1103515245u + 12345u;
  *seed = y;
  return int(((x >> 16) << 15) ^ (y >> 17)) & 0x7fffffff;
}

}  // namespace rz::libc

#ifdef RINGZERO_KERNEL
#include <inttypes.h>

#include <ringzero/os.hpp>

#include "kernel/panic.hpp"

namespace {
unsigned rand_seed = 1;  // C: as if srand(1) had been called
}  // namespace

extern "C" {

long strtol(const char* s, char** end, int base) noexcept {
  return rz::libc::strtol(s, end, base);
}
long long strtoll(const char* s, char** end, int base) noexcept {
  return rz::libc::strtoll(s, end, base);
}
unsigned long strtoul(const char* s, char** end, int base) noexcept {
  return rz::libc::strtoul(s, end, base);
}
unsigned long long strtoull(const char* s, char** end, int base) noexcept {
  return rz::libc::strtoull(s, end, base);
}
static_assert(sizeof(intmax_t) == sizeof(long long) && sizeof(uintmax_t) == sizeof(long long));
intmax_t strtoimax(const char* s, char** end, int base) noexcept {
  return rz::libc::strtoll(s, end, base);
}
uintmax_t strtoumax(const char* s, char** end, int base) noexcept {
  return rz::libc::strtoull(s, end, base);
}
double strtod(const char* s, char** end) noexcept {
  return rz::libc::strtod(s, end);
}
float strtof(const char* s, char** end) noexcept {
  return rz::libc::strtof(s, end);
}

// glibc's <stdlib.h> defines atoi, atol, atoll and bsearch inline when
// optimizing, and C++ allows no second definition: these are defined under
// other names and given the C names as their assembler labels.
int rz_atoi(const char* s) noexcept __asm__("atoi");
long rz_atol(const char* s) noexcept __asm__("atol");
long long rz_atoll(const char* s) noexcept __asm__("atoll");
void* rz_bsearch(const void* key, const void* base, size_t count, size_t size,
                 __compar_fn_t compare) __asm__("bsearch");

int rz_atoi(const char* s) noexcept {
  return int(rz::libc::strtol(s, nullptr, 10));
}
long rz_atol(const char* s) noexcept {
  return rz::libc::strtol(s, nullptr, 10);
}
long long rz_atoll(const char* s) noexcept {
  return rz::libc::strtoll(s, nullptr, 10);
}
void* rz_bsearch(const void* key, const void* base, size_t count, size_t size,
                 __compar_fn_t compare) {
  return rz::libc::bsearch(key, base, count, size, compare);
}

int abs(int x) noexcept {
  return x < 0 ? -x : x;
}
long labs(long x) noexcept {
  return x < 0 ? -x : x;
}
long long llabs(long long x) noexcept {
  return x < 0 ? -x : x;
}
div_t div(int a, int b) noexcept {
  return {a / b, a % b};
}
ldiv_t ldiv(long a, long b) noexcept {
  return {a / b, a % b};
}
lldiv_t lldiv(long long a, long long b) noexcept {
  return {a / b, a % b};
}

void qsort(void* base, size_t count, size_t size, __compar_fn_t compare) {
  rz::libc::qsort(base, count, size, compare);
}
void qsort_r(void* base, size_t count, size_t size, __compar_d_fn_t compare, void* ctx) {
  rz::libc::qsort_r(base, count, size, compare, ctx);
}

int rand() noexcept {
  return rz::libc::rand_r(&rand_seed);
}
void srand(unsigned seed) noexcept {
  rand_seed = seed;
}
int rand_r(unsigned* seed) noexcept {
  return rz::libc::rand_r(seed);
}

// No environment: the kernel command line is read through os::cmdline_arg().
char* getenv(const char*) noexcept {
  return nullptr;
}

void abort() noexcept {
  rz::panic("abort() called");
}

// The VM never runs exit-time destructors or atexit handlers: exit() ends the
// VM at once, and with unbuffered console output nothing is left to flush.
// So registrations are accepted and dropped.
int atexit(void (*)()) noexcept {
  return 0;
}
int __cxa_atexit(void (*)(void*), void*, void*) noexcept {
  return 0;
}
void* __dso_handle = nullptr;

void exit(int status) noexcept {
  os::shutdown(status);
}
void _Exit(int status) noexcept {
  os::shutdown(status);
}

}  // extern "C"
#endif
