// Time: a monotonic clock from the TSC (frequency from kvmclock or CPUID, a
// short PIT calibration only as the last resort) and the wall clock, read
// once at boot (kvmclock or CMOS RTC) and advanced by the TSC afterwards.
#pragma once
#include <cstdint>

namespace rz::clock {

// Reads the TSC frequency and the wall clock. Called once during boot.
void init();

// Nanoseconds since the CPU came out of reset (TSC 0).
std::uint64_t monotonic_ns();
// Nanoseconds since the Unix epoch.
std::uint64_t realtime_ns();

std::uint64_t tsc_hz();
// Converts between TSC ticks and nanoseconds.
std::uint64_t ticks_to_ns(std::uint64_t ticks);
std::uint64_t ns_to_ticks(std::uint64_t ns);
// Where the frequency came from: "kvmclock", "cpuid15", "cpuid16", "pit".
const char* source();

inline std::uint64_t rdtsc() {
  std::uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (std::uint64_t(hi) << 32) | lo;
}

}  // namespace rz::clock
