// The printf engine behind the C printf family (kernel/libc/stdio.cpp),
// console::print() and crash reports. It needs no heap and calls no libc
// function, so it runs anywhere in the kernel and builds on the host for
// tests.
//
// Conversions: d i u o x X c s p % f F e E g G a A, with the flags - + space #
// 0, width and precision (also as *), and the length modifiers hh h l ll q z j
// t L. Floating point is exact: every digit glibc would print, rounded
// half-to-even on the binary value as glibc does in the default rounding
// mode. long double is converted to double first. %n prints nothing and
// writes nothing (its argument is consumed); %lc and %ls print ASCII
// characters as themselves and others as '?'. An unknown conversion is
// printed as written.
#pragma once
#include <cstdarg>
#include <cstddef>

namespace rz::libc {

// Receives the output in pieces; never called with len == 0. Must not throw.
using Sink = void (*)(void* ctx, const char* data, std::size_t len);

// Formats to the sink. Returns the number of characters produced, or -1 if
// that exceeds INT_MAX.
int vformat(Sink sink, void* ctx, const char* fmt, va_list ap) noexcept;

// C's vsnprintf: writes at most size - 1 characters and a NUL (nothing when
// size is 0) and returns the length the full output would have had.
int vsnprintf(char* buf, std::size_t size, const char* fmt, va_list ap) noexcept;

}  // namespace rz::libc
