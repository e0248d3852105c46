// The algorithms behind the kernel's <stdlib.h> functions
// (kernel/libc/stdlib.cpp), kept apart from the C symbols so the host tests
// can run them next to glibc's.
//
// The strto* functions follow C and glibc: leading white space, a sign, base
// prefixes, endptr, and errno = ERANGE on overflow (and EINVAL for an
// invalid integer base, where endptr is set to the start). strtod and strtof
// round correctly (half to even) for any decimal or hexadecimal input, and
// also accept inf, infinity, nan and nan(chars); they set ERANGE when the
// result overflows, or when the value is below the smallest normal number and
// the result inexact (as glibc does).
#pragma once
#include <cstddef>

namespace rz::libc {

long strtol(const char* s, char** end, int base) noexcept;
long long strtoll(const char* s, char** end, int base) noexcept;
unsigned long strtoul(const char* s, char** end, int base) noexcept;
unsigned long long strtoull(const char* s, char** end, int base) noexcept;
double strtod(const char* s, char** end) noexcept;
float strtof(const char* s, char** end) noexcept;

using Compare = int (*)(const void*, const void*);
using CompareWith = int (*)(const void*, const void*, void* ctx);

// Introsort: O(n log n) comparisons at worst, not stable.
void qsort_r(void* base, std::size_t count, std::size_t size, CompareWith compare, void* ctx);
void qsort(void* base, std::size_t count, std::size_t size, Compare compare);
void* bsearch(const void* key, const void* base, std::size_t count, std::size_t size,
              Compare compare);

// A 31-bit pseudo-random number from *seed, which it advances.
int rand_r(unsigned* seed) noexcept;

}  // namespace rz::libc
