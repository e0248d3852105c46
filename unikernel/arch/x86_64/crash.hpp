// Crash reports. Every fatal event (CPU exception, panic, uncaught C++
// exception, out of memory, heap corruption) prints one report on the console
// in a form the harness parses and symbolizes:
//
//   *** ringzero crash: <what happened>
//   <registers, for CPU exceptions>
//   backtrace:
//     #0 0x0000000000101234
//     #1 0x...
//   *** end of crash report
//   ringzero: exit status <n>
//
// and then ends the VM with that status.
#pragma once
#include <cstdarg>
#include <cstdint>

#include "arch/x86_64/cpu.hpp"

namespace rz::crash {

// Called by interrupt_dispatch for vectors 0-31.
[[noreturn]] void cpu_exception(const cpu::InterruptFrame& frame);

// A report without a CPU frame: the backtrace starts at the caller of the
// function that calls this (frame pointer `rbp`).
[[noreturn]] void report(int status, std::uintptr_t rbp, const char* fmt, va_list ap);

// Prints "backtrace:" and the frames found by walking the frame-pointer
// chain from `rbp`, starting with `rip` if it is non-zero (`rsp` finds the
// caller when `rip` is outside the kernel's text).
void print_backtrace(std::uintptr_t rip, std::uintptr_t rbp, std::uintptr_t rsp);

}  // namespace rz::crash
