// <ctype.h> for the C locale: ASCII, with bytes 128-255 in no class. glibc's
// macros and inline functions read the tables through __ctype_b_loc() and
// friends, indexing them with anything from -128 (a negative plain char) to
// 255. A negative value other than EOF stands for the byte it came from: no
// class, and case mapping returns that byte as unsigned char, as glibc's
// tables do (so the result is always a safe index).
//
// __NO_CTYPE is glibc's own switch for the library that implements these:
// without it <ctype.h> defines isalpha() and the rest inline, which C++
// would not let this file define again.
#define __NO_CTYPE 1
#include <ctype.h>

#include <array>
#include <cstdint>

namespace {

constexpr unsigned short classify(int c) {
  if (c < 0 || c > 127) return 0;
  bool upper = c >= 'A' && c <= 'Z';
  bool lower = c >= 'a' && c <= 'z';
  bool digit = c >= '0' && c <= '9';
  bool cntrl = c < 32 || c == 127;
  bool graph = !cntrl && c != ' ';
  int bits = 0;
  if (upper) bits |= _ISupper;
  if (lower) bits |= _ISlower;
  if (upper || lower) bits |= _ISalpha;
  if (digit) bits |= _ISdigit;
  if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) bits |= _ISxdigit;
  if (c == ' ' || (c >= '\t' && c <= '\r')) bits |= _ISspace;
  if (!cntrl) bits |= _ISprint;
  if (graph) bits |= _ISgraph;
  if (c == ' ' || c == '\t') bits |= _ISblank;
  if (cntrl) bits |= _IScntrl;
  if (graph && !upper && !lower && !digit) bits |= _ISpunct;
  if (upper || lower || digit) bits |= _ISalnum;
  return static_cast<unsigned short>(bits);
}

constexpr std::int32_t as_byte(int c) {
  return c < -1 ? c + 256 : c;
}
constexpr std::int32_t to_lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : as_byte(c);
}
constexpr std::int32_t to_upper(int c) {
  return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : as_byte(c);
}

// Entry i + 128 is for the value i, -128 <= i <= 255.
template <typename T, typename F>
constexpr std::array<T, 384> make_table(F f) {
  std::array<T, 384> table{};
  for (int i = -128; i < 256; ++i) table[std::size_t(i + 128)] = f(i);
  return table;
}

constexpr auto class_table = make_table<unsigned short>(classify);
constexpr auto lower_table = make_table<std::int32_t>(to_lower);
constexpr auto upper_table = make_table<std::int32_t>(to_upper);

// What the *_loc() functions point to (glibc keeps these per thread).
const unsigned short* class_origin = class_table.data() + 128;
const std::int32_t* lower_origin = lower_table.data() + 128;
const std::int32_t* upper_origin = upper_table.data() + 128;

bool in_table(int c) {
  return c >= -128 && c < 256;
}
int has(int c, int bit) {
  return in_table(c) ? class_origin[c] & bit : 0;
}

}  // namespace

extern "C" {

const unsigned short** __ctype_b_loc() noexcept {
  return &class_origin;
}
const std::int32_t** __ctype_tolower_loc() noexcept {
  return &lower_origin;
}
const std::int32_t** __ctype_toupper_loc() noexcept {
  return &upper_origin;
}

int isalnum(int c) noexcept {
  return has(c, _ISalnum);
}
int isalpha(int c) noexcept {
  return has(c, _ISalpha);
}
int isblank(int c) noexcept {
  return has(c, _ISblank);
}
int iscntrl(int c) noexcept {
  return has(c, _IScntrl);
}
int isdigit(int c) noexcept {
  return has(c, _ISdigit);
}
int isgraph(int c) noexcept {
  return has(c, _ISgraph);
}
int islower(int c) noexcept {
  return has(c, _ISlower);
}
int isprint(int c) noexcept {
  return has(c, _ISprint);
}
int ispunct(int c) noexcept {
  return has(c, _ISpunct);
}
int isspace(int c) noexcept {
  return has(c, _ISspace);
}
int isupper(int c) noexcept {
  return has(c, _ISupper);
}
int isxdigit(int c) noexcept {
  return has(c, _ISxdigit);
}
int tolower(int c) noexcept {
  return in_table(c) ? lower_origin[c] : c;
}
int toupper(int c) noexcept {
  return in_table(c) ? upper_origin[c] : c;
}

}  // extern "C"
