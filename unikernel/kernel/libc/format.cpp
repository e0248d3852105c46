#include "kernel/libc/format.hpp"

#include <bit>
#include <climits>
#include <cstdint>
#include <cwchar>
#include <type_traits>

namespace rz::libc {
namespace {

// Collects output in a small buffer so the sink sees a few large pieces
// rather than one call per character.
class Out {
 public:
  Out(Sink sink, void* ctx) : sink_(sink), ctx_(ctx) {}

  void put(char c) {
    if (used_ == sizeof(buf_)) flush();
    buf_[used_++] = c;
    ++total_;
  }

  void put(const char* s, std::size_t len) {
    total_ += len;
    if (len > sizeof(buf_) - used_) {
      flush();
      if (len >= sizeof(buf_)) {  // big pieces go straight through
        sink_(ctx_, s, len);
        return;
      }
    }
    for (std::size_t i = 0; i < len; ++i) buf_[used_ + i] = s[i];
    used_ += len;
  }

  void fill(char c, std::size_t count) {
    total_ += count;
    while (count) {
      if (used_ == sizeof(buf_)) flush();
      std::size_t n = sizeof(buf_) - used_;
      if (n > count) n = count;
      for (std::size_t i = 0; i < n; ++i) buf_[used_ + i] = c;
      used_ += n;
      count -= n;
    }
  }

  void flush() {
    if (used_) sink_(ctx_, buf_, used_);
    used_ = 0;
  }

  std::size_t total() const { return total_; }

 private:
  Sink sink_;
  void* ctx_;
  std::size_t used_ = 0;
  std::size_t total_ = 0;
  char buf_[128];
};

enum class Length { none, hh, h, l, ll, z, j, t, L };

struct Spec {
  bool left = false, plus = false, space = false, alt = false, zero = false;
  std::size_t width = 0;
  int precision = -1;  // -1: none given
  Length length = Length::none;
  char conv = 0;
};

// Where the width's padding goes around a field of len characters: spaces
// before or after it, or zeros between its sign/prefix and its digits.
struct Padding {
  std::size_t before = 0, zeros = 0, after = 0;
};

Padding pad(const Spec& s, std::size_t len, bool zeros_allowed) {
  Padding p;
  std::size_t fill = s.width > len ? s.width - len : 0;
  if (s.left)
    p.after = fill;
  else if (s.zero && zeros_allowed)
    p.zeros = fill;
  else
    p.before = fill;
  return p;
}

// ---- integers, characters, strings --------------------------------------------

void format_integer(Out& out, const Spec& s, std::uint64_t value, bool negative) {
  bool hex = s.conv == 'x' || s.conv == 'X' || s.conv == 'p';
  unsigned base = hex ? 16 : s.conv == 'o' ? 8 : 10;
  const char* digit_set = s.conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  char digits[22];  // UINT64_MAX has 22 octal digits
  char* end = digits + sizeof(digits);
  char* first = end;
  for (std::uint64_t v = value; v; v /= base) *--first = digit_set[v % base];
  std::size_t count = std::size_t(end - first);

  // The precision is a minimum digit count; '#' with 'o' asks for a leading 0.
  std::size_t min_digits = s.precision < 0 ? 1 : std::size_t(s.precision);
  std::size_t zeros = min_digits > count ? min_digits - count : 0;
  if (s.alt && s.conv == 'o' && zeros == 0) zeros = 1;

  char prefix[3];
  std::size_t prefix_len = 0;
  bool is_signed = s.conv == 'd' || s.conv == 'i' || s.conv == 'p';  // glibc signs %p too
  if (negative)
    prefix[prefix_len++] = '-';
  else if (is_signed && s.plus)
    prefix[prefix_len++] = '+';
  else if (is_signed && s.space)
    prefix[prefix_len++] = ' ';
  if (s.conv == 'p' || (s.alt && hex && value != 0)) {
    prefix[prefix_len++] = '0';
    prefix[prefix_len++] = s.conv == 'X' ? 'X' : 'x';
  }

  // An explicit precision turns off the '0' flag.
  Padding p = pad(s, prefix_len + zeros + count, s.precision < 0);
  out.fill(' ', p.before);
  out.put(prefix, prefix_len);
  out.fill('0', p.zeros + zeros);
  out.put(first, count);
  out.fill(' ', p.after);
}

void format_chars(Out& out, const Spec& s, const char* str, std::size_t len) {
  Padding p = pad(s, len, false);
  out.fill(' ', p.before);
  out.put(str, len);
  out.fill(' ', p.after);
}

// A null %s prints "(null)" as glibc does, or nothing if the precision would
// cut that short.
void format_string(Out& out, const Spec& s, const char* str) {
  if (!str) str = s.precision < 0 || s.precision >= 6 ? "(null)" : "";
  std::size_t len = 0;
  while ((s.precision < 0 || len < std::size_t(s.precision)) && str[len]) ++len;
  format_chars(out, s, str, len);
}

// The C locale has no characters beyond ASCII.
char narrow(long c) {
  return c >= 0 && c < 0x80 ? char(c) : '?';
}

void format_wide_string(Out& out, const Spec& s, const wchar_t* str) {
  if (!str) return format_string(out, s, nullptr);
  std::size_t len = 0;
  while ((s.precision < 0 || len < std::size_t(s.precision)) && str[len]) ++len;
  Padding p = pad(s, len, false);
  out.fill(' ', p.before);
  for (std::size_t i = 0; i < len; ++i) out.put(narrow(str[i]));
  out.fill(' ', p.after);
}

// ---- floating point -------------------------------------------------------------

constexpr std::uint64_t fraction_mask = (std::uint64_t(1) << 52) - 1;

// The exact decimal value of a finite double's magnitude:
// 0.d[0]d[1]...d[len-1] × 10^point, without trailing zeros; zero has len 0.
struct Decimal {
  char d[768];  // a double's exact expansion has at most 767 significant digits
  int len;
  int point;
};

void to_decimal(std::uint64_t bits, Decimal& dec) {
  std::uint64_t mantissa = bits & fraction_mask;
  int biased = int(bits >> 52) & 0x7ff;
  if (biased)
    mantissa |= std::uint64_t(1) << 52;
  else
    biased = 1;                  // subnormal
  int exponent = biased - 1075;  // value = mantissa × 2^exponent
  dec.len = 0;
  dec.point = 1;
  if (!mantissa) return;

  // value = N × 10^min(exponent, 0) with the integer N = mantissa × 2^exponent
  // or mantissa × 5^-exponent, computed in base 10^9 (least significant first).
  constexpr std::uint32_t limb_base = 1000000000;
  std::uint32_t limb[88];  // N < 2^53 × 5^1074 has at most 767 digits
  int n = 0;
  for (std::uint64_t m = mantissa; m; m /= limb_base) limb[n++] = std::uint32_t(m % limb_base);
  auto multiply = [&](std::uint32_t factor) {
    std::uint64_t carry = 0;
    for (int i = 0; i < n; ++i) {
      std::uint64_t x = std::uint64_t(limb[i]) * factor + carry;
      limb[i] = std::uint32_t(x % limb_base);
      carry = x / limb_base;
    }
    for (; carry; carry /= limb_base) limb[n++] = std::uint32_t(carry % limb_base);
  };
  if (exponent > 0) {
    for (int e = exponent; e > 0; e -= 31) multiply(std::uint32_t(1) << (e < 31 ? e : 31));
  } else {
    static constexpr std::uint32_t pow5[] = {1,       5,        25,        125,       625,
                                             3125,    15625,    78125,     390625,    1953125,
                                             9765625, 48828125, 244140625, 1220703125};
    for (int k = -exponent; k > 0; k -= 13) multiply(pow5[k < 13 ? k : 13]);
  }

  char top[10];
  int top_len = 0;
  for (std::uint32_t v = limb[n - 1]; v; v /= 10) top[top_len++] = char('0' + v % 10);
  while (top_len) dec.d[dec.len++] = top[--top_len];
  for (int i = n - 2; i >= 0; --i) {
    for (int k = 8; k >= 0; --k) {
      dec.d[dec.len + k] = char('0' + limb[i] % 10);
      limb[i] /= 10;
    }
    dec.len += 9;
  }
  dec.point = dec.len + (exponent < 0 ? exponent : 0);
  while (dec.d[dec.len - 1] == '0') --dec.len;
}

// Rounds to the first `keep` digits (keep may be 0 or negative: the position
// is before the first digit), half to even.
void round_digits(Decimal& dec, std::int64_t keep) {
  if (keep >= dec.len) return;
  if (keep < 0) {
    dec.len = 0;
    return;
  }
  char next = dec.d[keep];
  bool up;
  if (next != '5')
    up = next > '5';
  else  // a tie only if nothing follows (there are no trailing zeros)
    up = keep + 1 < dec.len || (keep > 0 && (dec.d[keep - 1] - '0') % 2 == 1);
  dec.len = int(keep);
  if (up) {
    while (dec.len > 0 && dec.d[dec.len - 1] == '9') --dec.len;
    if (dec.len == 0) {
      dec.d[dec.len++] = '1';
      ++dec.point;
    } else {
      ++dec.d[dec.len - 1];
    }
  } else {
    while (dec.len > 0 && dec.d[dec.len - 1] == '0') --dec.len;
  }
}

// Writes digits [from, from + count) of dec: zeros where it stores none.
void put_digits(Out& out, const Decimal& dec, std::int64_t from, std::int64_t count) {
  if (count <= 0) return;
  if (from < 0) {
    std::int64_t zeros = -from < count ? -from : count;
    out.fill('0', std::size_t(zeros));
    from += zeros;
    count -= zeros;
  }
  if (count > 0 && from < dec.len) {
    std::int64_t n = dec.len - from < count ? dec.len - from : count;
    out.put(dec.d + from, std::size_t(n));
    count -= n;
  }
  out.fill('0', std::size_t(count));
}

// %a: the fraction's hex digits as stored, rounded half to even when the
// precision cuts them; like glibc, a carry shows as a leading 2.
void format_hex_float(Out& out, const Spec& s, std::uint64_t bits, char sign) {
  bool upper = s.conv == 'A';
  std::uint64_t fraction = bits & fraction_mask;
  int biased = int(bits >> 52) & 0x7ff;
  int lead = biased ? 1 : 0;
  int exponent = biased ? biased - 1023 : fraction ? -1022 : 0;
  int digits = 13;
  if (s.precision < 0) {
    for (; digits > 0 && (fraction & 0xf) == 0; --digits) fraction >>= 4;
  } else if (s.precision < 13) {
    digits = s.precision;
    int drop = 4 * (13 - digits);
    std::uint64_t rest = fraction & ((std::uint64_t(1) << drop) - 1);
    std::uint64_t half = std::uint64_t(1) << (drop - 1);
    fraction >>= drop;
    bool odd = digits ? fraction & 1 : lead & 1;
    if (rest > half || (rest == half && odd)) {
      if (++fraction >> (4 * digits)) {
        fraction = 0;
        ++lead;
      }
    }
  }
  std::size_t extra_zeros = s.precision > 13 ? std::size_t(s.precision - 13) : 0;
  bool dot = digits > 0 || extra_zeros > 0 || s.alt;

  const char* digit_set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char body[14];  // the lead digit and up to 13 fraction digits
  body[0] = digit_set[lead];
  for (int i = 0; i < digits; ++i)
    body[1 + i] = digit_set[(fraction >> (4 * (digits - 1 - i))) & 0xf];
  char tail[8];  // p, sign, up to 4 digits
  int tail_len = 0;
  tail[tail_len++] = upper ? 'P' : 'p';
  tail[tail_len++] = exponent < 0 ? '-' : '+';
  char rev[4];
  int rev_len = 0;
  for (int e = exponent < 0 ? -exponent : exponent; rev_len == 0 || e; e /= 10)
    rev[rev_len++] = char('0' + e % 10);
  while (rev_len) tail[tail_len++] = rev[--rev_len];

  char prefix[3];
  std::size_t prefix_len = 0;
  if (sign) prefix[prefix_len++] = sign;
  prefix[prefix_len++] = '0';
  prefix[prefix_len++] = upper ? 'X' : 'x';
  std::size_t len =
      prefix_len + 1 + dot + std::size_t(digits) + extra_zeros + std::size_t(tail_len);
  Padding p = pad(s, len, true);
  out.fill(' ', p.before);
  out.put(prefix, prefix_len);
  out.fill('0', p.zeros);
  out.put(body[0]);
  if (dot) out.put('.');
  out.put(body + 1, std::size_t(digits));
  out.fill('0', extra_zeros);
  out.put(tail, std::size_t(tail_len));
  out.fill(' ', p.after);
}

// Not inlined: its digit buffer should only take stack space when a float is
// printed (crash reports format on the small interrupt stacks).
[[gnu::noinline]] void format_float(Out& out, const Spec& s, double value) {
  auto bits = std::bit_cast<std::uint64_t>(value);
  bool upper = s.conv == 'F' || s.conv == 'E' || s.conv == 'G' || s.conv == 'A';
  char sign = bits >> 63 ? '-' : s.plus ? '+' : s.space ? ' ' : 0;
  bits &= ~(std::uint64_t(1) << 63);

  if ((bits >> 52) == 0x7ff) {  // glibc pads inf and nan with spaces only
    const char* text = bits & fraction_mask ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
    Padding p = pad(s, sign ? 4 : 3, false);
    out.fill(' ', p.before);
    if (sign) out.put(sign);
    out.put(text, 3);
    out.fill(' ', p.after);
    return;
  }
  if (s.conv == 'a' || s.conv == 'A') return format_hex_float(out, s, bits, sign);

  Decimal dec;
  to_decimal(bits, dec);
  std::int64_t precision = s.precision < 0 ? 6 : s.precision;
  bool exponential = s.conv == 'e' || s.conv == 'E';
  if (s.conv == 'g' || s.conv == 'G') {
    // %g: P significant digits, in %e style if the exponent X (after
    // rounding) is < -4 or >= P, else %f style with P - 1 - X decimals;
    // without '#', trailing zeros go.
    if (precision == 0) precision = 1;
    round_digits(dec, precision);
    std::int64_t x = dec.len ? dec.point - 1 : 0;
    exponential = x < -4 || x >= precision;
    precision = exponential ? precision - 1 : precision - 1 - x;
    if (!s.alt) {
      std::int64_t stored = exponential ? dec.len - 1 : dec.len - dec.point;
      if (stored < precision) precision = stored < 0 ? 0 : stored;
    }
  } else {
    round_digits(dec, exponential ? precision + 1 : dec.point + precision);
  }

  bool dot = precision > 0 || s.alt;
  char tail[6];  // e, sign, up to 3 digits
  std::size_t tail_len = 0;
  std::size_t len = (sign ? 1 : 0) + dot + std::size_t(precision);
  if (exponential) {
    int x = dec.len ? dec.point - 1 : 0;
    tail[tail_len++] = upper ? 'E' : 'e';
    tail[tail_len++] = x < 0 ? '-' : '+';
    if (x < 0) x = -x;
    if (x >= 100) tail[tail_len++] = char('0' + x / 100);
    tail[tail_len++] = char('0' + x / 10 % 10);
    tail[tail_len++] = char('0' + x % 10);
    len += 1 + tail_len;
  } else {
    len += dec.point > 0 ? std::size_t(dec.point) : 1;
  }

  Padding p = pad(s, len, true);
  out.fill(' ', p.before);
  if (sign) out.put(sign);
  out.fill('0', p.zeros);
  std::int64_t int_digits = exponential ? 1 : dec.point;
  if (int_digits > 0)
    put_digits(out, dec, 0, int_digits);
  else
    out.put('0');
  if (dot) out.put('.');
  put_digits(out, dec, int_digits, precision);
  out.put(tail, tail_len);
  out.fill(' ', p.after);
}

// ---- the format string ------------------------------------------------------------

// Wrapped so helpers can take the argument list by reference.
struct Args {
  va_list ap;
};

std::uint64_t unsigned_arg(Args& a, Length length) {
  switch (length) {
    case Length::hh:
      return static_cast<unsigned char>(va_arg(a.ap, unsigned));
    case Length::h:
      return static_cast<unsigned short>(va_arg(a.ap, unsigned));
    case Length::l:
      return va_arg(a.ap, unsigned long);
    case Length::ll:
    case Length::L:
      return va_arg(a.ap, unsigned long long);
    case Length::z:
      return va_arg(a.ap, std::size_t);
    case Length::j:
      return va_arg(a.ap, std::uintmax_t);
    case Length::t:
      return static_cast<std::make_unsigned_t<std::ptrdiff_t>>(va_arg(a.ap, std::ptrdiff_t));
    case Length::none:
      break;
  }
  return va_arg(a.ap, unsigned);
}

std::int64_t signed_arg(Args& a, Length length) {
  switch (length) {
    case Length::hh:
      return static_cast<signed char>(va_arg(a.ap, int));
    case Length::h:
      return static_cast<short>(va_arg(a.ap, int));
    case Length::l:
      return va_arg(a.ap, long);
    case Length::ll:
    case Length::L:
      return va_arg(a.ap, long long);
    case Length::z:
      return va_arg(a.ap, std::make_signed_t<std::size_t>);
    case Length::j:
      return va_arg(a.ap, std::intmax_t);
    case Length::t:
      return va_arg(a.ap, std::ptrdiff_t);
    case Length::none:
      break;
  }
  return va_arg(a.ap, int);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A decimal number in the format string, saturating at INT_MAX.
int parse_number(const char*& p) {
  int n = 0;
  for (; is_digit(*p); ++p) {
    int d = *p - '0';
    n = n > (INT_MAX - d) / 10 ? INT_MAX : n * 10 + d;
  }
  return n;
}

// Reads flags, width, precision and length; stops at the conversion.
void parse_spec(const char*& p, Spec& s, Args& a) {
  for (;; ++p) {
    if (*p == '-')
      s.left = true;
    else if (*p == '+')
      s.plus = true;
    else if (*p == ' ')
      s.space = true;
    else if (*p == '#')
      s.alt = true;
    else if (*p == '0')
      s.zero = true;
    else
      break;
  }
  if (*p == '*') {
    ++p;
    int w = va_arg(a.ap, int);
    if (w < 0) s.left = true;  // a negative width is the '-' flag
    s.width = w < 0 ? 0 - static_cast<std::size_t>(w) : std::size_t(w);
  } else {
    s.width = std::size_t(parse_number(p));
  }
  if (*p == '.') {
    ++p;
    if (*p == '*') {
      ++p;
      int prec = va_arg(a.ap, int);
      s.precision = prec < 0 ? -1 : prec;  // a negative precision counts as none
    } else {
      s.precision = parse_number(p);
    }
  }
  switch (*p) {
    case 'h':
      ++p;
      s.length = *p == 'h' ? (++p, Length::hh) : Length::h;
      break;
    case 'l':
      ++p;
      s.length = *p == 'l' ? (++p, Length::ll) : Length::l;
      break;
    case 'q':
      ++p;
      s.length = Length::ll;
      break;
    case 'z':
      ++p;
      s.length = Length::z;
      break;
    case 'j':
      ++p;
      s.length = Length::j;
      break;
    case 't':
      ++p;
      s.length = Length::t;
      break;
    case 'L':
      ++p;
      s.length = Length::L;
      break;
  }
  s.conv = *p;
}

void format_one(Out& out, const Spec& s, Args& a, const char* spec_start, const char* spec_end) {
  switch (s.conv) {
    case 'd':
    case 'i': {
      std::int64_t v = signed_arg(a, s.length);
      std::uint64_t magnitude = v < 0 ? 0 - static_cast<std::uint64_t>(v) : std::uint64_t(v);
      return format_integer(out, s, magnitude, v < 0);
    }
    case 'u':
    case 'o':
    case 'x':
    case 'X':
      return format_integer(out, s, unsigned_arg(a, s.length), false);
    case 'p': {
      void* ptr = va_arg(a.ap, void*);
      if (!ptr) return format_chars(out, s, "(nil)", 5);
      return format_integer(out, s, reinterpret_cast<std::uintptr_t>(ptr), false);
    }
    case 'c': {
      char c = s.length == Length::l ? narrow(long(va_arg(a.ap, wint_t)))
                                     : static_cast<char>(va_arg(a.ap, int));
      return format_chars(out, s, &c, 1);
    }
    case 's':
      if (s.length == Length::l) return format_wide_string(out, s, va_arg(a.ap, const wchar_t*));
      return format_string(out, s, va_arg(a.ap, const char*));
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G':
    case 'a':
    case 'A': {
      double v = s.length == Length::L ? double(va_arg(a.ap, long double)) : va_arg(a.ap, double);
      return format_float(out, s, v);
    }
    case 'n':  // unsupported: writing through format arguments invites exploits
      (void)va_arg(a.ap, void*);
      return;
    case '%':
      return out.put('%');
    default:
      return out.put(spec_start, std::size_t(spec_end - spec_start));
  }
}

}  // namespace

int vformat(Sink sink, void* ctx, const char* fmt, va_list ap) noexcept {
  Out out(sink, ctx);
  Args a;
  va_copy(a.ap, ap);
  const char* p = fmt;
  while (*p) {
    const char* literal = p;
    while (*p && *p != '%') ++p;
    out.put(literal, std::size_t(p - literal));
    if (!*p) break;
    const char* spec_start = p++;
    Spec s;
    parse_spec(p, s, a);
    if (!*p) {  // the format ends inside a conversion: print it as written
      out.put(spec_start, std::size_t(p - spec_start));
      break;
    }
    ++p;
    format_one(out, s, a, spec_start, p);
  }
  va_end(a.ap);
  out.flush();
  return out.total() > std::size_t(INT_MAX) ? -1 : int(out.total());
}

namespace {

struct Buffer {
  char* next;
  std::size_t room;  // without the NUL
};

void buffer_sink(void* ctx, const char* data, std::size_t len) {
  auto* b = static_cast<Buffer*>(ctx);
  std::size_t n = len < b->room ? len : b->room;
  if (!n) return;
  for (std::size_t i = 0; i < n; ++i) b->next[i] = data[i];
  b->next += n;
  b->room -= n;
}

}  // namespace

int vsnprintf(char* buf, std::size_t size, const char* fmt, va_list ap) noexcept {
  Buffer b{buf, size ? size - 1 : 0};
  int n = vformat(buffer_sink, &b, fmt, ap);
  if (size) *b.next = '\0';
  return n;
}

}  // namespace rz::libc
