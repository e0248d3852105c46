// The kernel console: log output on COM1. Every byte costs a VM exit (about
// 15 us under nested KVM), so the kernel keeps its own output short.
#pragma once
#include <cstddef>
#include <string_view>

namespace rz::console {

// Brings up COM1. Safe to call more than once.
void init();

// Writes bytes to the console; "\n" is sent as "\r\n".
void write(const char* data, std::size_t len);
inline void write(std::string_view s) {
  write(s.data(), s.size());
}

// Waits until everything written has left the UART.
void flush();

// printf-style output to the console (see kernel/libc/format.hpp).
[[gnu::format(printf, 1, 2)]] int print(const char* fmt, ...);

}  // namespace rz::console
