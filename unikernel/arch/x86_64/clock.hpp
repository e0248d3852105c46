// Time: a monotonic clock from the TSC and the wall clock, read once at boot
// (kvmclock or the CMOS RTC) and advanced by the TSC afterwards.
//
// The TSC frequency comes from kvmclock (KVM), CPUID 0x15/0x16, or else is
// measured against the HPET over 2 ms that overlap the rest of kernel init
// (TCG has neither of the first two); the PIT is the last resort.
#pragma once
#include <cstdint>

namespace rz::clock {

// Reads the TSC frequency from kvmclock or CPUID, or, when it has to be
// measured, takes the first HPET reading. Called once, as early as the HPET
// is mapped.
void start_calibration();
// Finishes a measurement and reads the wall clock. Called once, later.
void init();

// Nanoseconds since the CPU came out of reset (TSC 0).
std::uint64_t monotonic_ns();
// Nanoseconds since the Unix epoch.
std::uint64_t realtime_ns();

std::uint64_t tsc_hz();
// Converts between TSC ticks and nanoseconds.
std::uint64_t ticks_to_ns(std::uint64_t ticks);
std::uint64_t ns_to_ticks(std::uint64_t ns);
// Where the frequency came from: "kvmclock", "cpuid15", "cpuid16", "hpet", "pit".
const char* source();

inline std::uint64_t rdtsc() {
  std::uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (std::uint64_t(hi) << 32) | lo;
}

// A value read from a device counter, paired with the TSC for calibration.
template <typename T>
struct Stamped {
  T value;
  std::uint64_t tsc;      // the middle of the read
  std::uint64_t bracket;  // TSC ticks the read took: the pairing's uncertainty
};

// A device read traps to the VMM and can stall (under TCG it waits for
// QEMU's big lock), so take the tightest of a few TSC-bracketed reads.
template <typename Read>
auto read_stamped(Read read) -> Stamped<decltype(read())> {
  Stamped<decltype(read())> best{};
  best.bracket = ~0ull;
  for (int i = 0; i < 8; ++i) {
    std::uint64_t before = rdtsc();
    auto value = read();
    std::uint64_t bracket = rdtsc() - before;
    if (bracket < best.bracket) best = {value, before + bracket / 2, bracket};
  }
  return best;
}

}  // namespace rz::clock
