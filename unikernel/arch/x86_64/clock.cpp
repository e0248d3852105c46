#include "arch/x86_64/clock.hpp"

#include <cstring>

#include "arch/x86_64/cpu.hpp"

namespace rz::clock {
namespace {

// KVM paravirtual clock, Linux Documentation/virt/kvm/x86/msr.rst.
constexpr std::uint32_t msr_kvm_wall_clock_new = 0x4b564d00;
constexpr std::uint32_t msr_kvm_system_time_new = 0x4b564d01;
constexpr std::uint32_t kvm_feature_clocksource2 = 1u << 3;

struct PvclockTime {
  std::uint32_t version;
  std::uint32_t pad0;
  std::uint64_t tsc_timestamp;
  std::uint64_t system_time;
  std::uint32_t tsc_to_system_mul;
  std::int8_t tsc_shift;
  std::uint8_t flags;
  std::uint8_t pad[2];
};
static_assert(sizeof(PvclockTime) == 32);

struct PvclockWallClock {
  std::uint32_t version;
  std::uint32_t sec;
  std::uint32_t nsec;
};
static_assert(sizeof(PvclockWallClock) == 12);

constexpr std::uint64_t ns_per_s = 1'000'000'000;

std::uint64_t hz = 0;
std::uint64_t ns_mult = 0;     // ns = ticks * ns_mult >> 32
std::uint64_t ticks_mult = 0;  // ticks = ns * ticks_mult >> 32
const char* hz_source = "none";
std::uint64_t wall_ref_ns = 0;  // the wall clock at TSC value wall_ref_tsc
std::uint64_t wall_ref_tsc = 0;
bool wall_known = false;  // kvmclock gave the wall clock along with the frequency

alignas(64) PvclockTime pvclock;
alignas(16) PvclockWallClock pvwall;

void set_hz(std::uint64_t h, const char* source) {
  hz = h;
  hz_source = source;
  ns_mult = std::uint64_t(((unsigned __int128)ns_per_s << 32) / h);
  ticks_mult = std::uint64_t(((unsigned __int128)h << 32) / ns_per_s);
}

bool is_kvm() {
  auto r = cpu::cpuid(0x40000000);
  char sig[13] = {};
  std::memcpy(sig, &r.ebx, 4);
  std::memcpy(sig + 4, &r.ecx, 4);
  std::memcpy(sig + 8, &r.edx, 4);
  return std::memcmp(sig, "KVMKVMKVM\0\0\0", 12) == 0 && r.eax >= 0x40000001;
}

// Copies a structure the host updates: it makes `version` odd while it
// writes, so a copy is consistent when version was even and unchanged.
template <typename T>
T read_versioned(const T& shared) {
  T copy;
  std::uint32_t v;
  do {
    v = __atomic_load_n(&shared.version, __ATOMIC_ACQUIRE);
    asm volatile("" ::: "memory");
    std::memcpy(&copy, &shared, sizeof(T));
    asm volatile("" ::: "memory");
  } while ((v & 1) || v != __atomic_load_n(&shared.version, __ATOMIC_ACQUIRE));
  return copy;
}

std::uint64_t pvclock_scale(std::uint64_t delta, std::uint32_t mul, std::int8_t shift) {
  delta = shift >= 0 ? delta << shift : delta >> -shift;
  return std::uint64_t(((unsigned __int128)delta * mul) >> 32);
}

bool init_kvmclock() {
  if (!is_kvm() || !(cpu::cpuid(0x40000001).eax & kvm_feature_clocksource2)) return false;
  cpu::wrmsr(msr_kvm_system_time_new, reinterpret_cast<std::uint64_t>(&pvclock) | 1);
  PvclockTime t = read_versioned(pvclock);
  cpu::wrmsr(msr_kvm_system_time_new, 0);  // one reading is all we need
  if (t.tsc_to_system_mul == 0) return false;
  // ns = (ticks << shift) * mul / 2^32  =>  hz = 1e9 * 2^32 / (mul << shift)
  unsigned __int128 num = (unsigned __int128)ns_per_s << 32;
  unsigned __int128 den = t.tsc_to_system_mul;
  if (t.tsc_shift >= 0)
    den <<= t.tsc_shift;
  else
    num <<= -t.tsc_shift;
  set_hz(std::uint64_t(num / den), "kvmclock");

  // Wall clock at kvmclock 0, plus kvmclock now, is the wall clock now.
  cpu::wrmsr(msr_kvm_wall_clock_new, reinterpret_cast<std::uint64_t>(&pvwall));
  PvclockWallClock w = read_versioned(pvwall);
  std::uint64_t now = rdtsc();
  std::uint64_t system_ns =
      t.system_time + pvclock_scale(now - t.tsc_timestamp, t.tsc_to_system_mul, t.tsc_shift);
  wall_ref_ns = std::uint64_t(w.sec) * ns_per_s + w.nsec + system_ns;
  wall_ref_tsc = now;
  wall_known = true;
  return true;
}

// CPUID 0x15: TSC/crystal ratio and crystal frequency; 0x16: base MHz.
bool init_cpuid() {
  std::uint32_t max = cpu::cpuid(0).eax;
  if (max >= 0x15) {
    auto r = cpu::cpuid(0x15);
    if (r.eax && r.ebx && r.ecx) {
      set_hz(std::uint64_t(r.ecx) * r.ebx / r.eax, "cpuid15");
      return true;
    }
  }
  if (max >= 0x16) {
    auto r = cpu::cpuid(0x16);
    if (r.eax & 0xFFFF) {
      set_hz(std::uint64_t(r.eax & 0xFFFF) * 1'000'000, "cpuid16");
      return true;
    }
  }
  return false;
}

// HPET (IA-PC HPET spec 1.0a, 2.3): its period is exact, in femtoseconds.
constexpr std::uintptr_t hpet_base = 0xFED00000;
constexpr std::size_t hpet_capabilities = 0x00, hpet_config = 0x10, hpet_counter = 0xF0;
constexpr std::uint64_t hpet_max_period_fs = 100'000'000;  // the spec's slowest: 10 MHz
constexpr std::uint64_t calibration_window_ns = 2'000'000;

using Mark = Stamped<std::uint64_t>;  // an HPET counter value
std::uint64_t hpet_period_fs = 0;
Mark hpet_mark{};

volatile std::uint64_t& hpet_reg(std::size_t offset) {
  return *reinterpret_cast<volatile std::uint64_t*>(hpet_base + offset);
}

Mark hpet_now() {
  return read_stamped([] { return std::uint64_t(hpet_reg(hpet_counter)); });
}

// TSC ticks over at least calibration_window_ns of HPET time since the mark
// that start_calibration() took (kernel init overlaps the wait), and until
// the two marks' uncertainty is below 0.1 % of the span.
bool finish_hpet() {
  if (!hpet_period_fs) return false;
  const std::uint64_t window = calibration_window_ns * 1'000'000 / hpet_period_fs;  // HPET ticks
  const std::uint64_t give_up = 50 * window;
  Mark now;
  do {
    now = hpet_now();
  } while (now.value - hpet_mark.value < window ||
           ((hpet_mark.bracket + now.bracket) * 1000 > now.tsc - hpet_mark.tsc &&
            now.value - hpet_mark.value < give_up));
  unsigned __int128 fs = (unsigned __int128)(now.value - hpet_mark.value) * hpet_period_fs;
  set_hz(std::uint64_t((unsigned __int128)(now.tsc - hpet_mark.tsc) * 1'000'000'000'000'000 / fs),
         "hpet");
  return true;
}

// Last resort: count TSC ticks over 10 ms of PIT channel 2 (1.193182 MHz).
void init_pit() {
  constexpr std::uint32_t pit_hz = 1'193'182;
  constexpr std::uint16_t count = pit_hz / 100;
  cpu::outb(0x61, (cpu::inb(0x61) & ~0x02) | 0x01);  // gate on, speaker off
  cpu::outb(0x43, 0xB0);                             // channel 2, lo/hi, mode 0
  cpu::outb(0x42, count & 0xFF);
  cpu::outb(0x42, count >> 8);
  std::uint64_t start = rdtsc();
  while (!(cpu::inb(0x61) & 0x20)) {
  }
  std::uint64_t ticks = rdtsc() - start;
  set_hz(ticks * pit_hz / count, "pit");
}

std::uint8_t cmos(std::uint8_t reg) {
  cpu::outb(0x70, reg);
  return cpu::inb(0x71);
}

// The wall clock from the CMOS RTC, read once (each access is a VM exit).
void init_rtc() {
  while (cmos(0x0A) & 0x80) {  // update in progress
  }
  std::uint8_t sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04), day = cmos(0x07),
               mon = cmos(0x08), year = cmos(0x09), status_b = cmos(0x0B);
  std::uint64_t tsc = rdtsc();
  auto bcd = [&](std::uint8_t v) -> unsigned {
    return (status_b & 0x04) ? v : (v & 0x0F) + (v >> 4) * 10;
  };
  unsigned h = bcd(hour & 0x7F);
  if (!(status_b & 0x02) && (hour & 0x80)) h = (h % 12) + 12;  // 12-hour clock, PM
  unsigned y = 2000 + bcd(year), m = bcd(mon), d = bcd(day);
  // Days since the epoch (civil calendar, proleptic Gregorian).
  std::int64_t yy = m <= 2 ? y - 1 : y;
  std::int64_t era = yy / 400;
  std::int64_t yoe = yy - era * 400;
  std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  std::int64_t days = era * 146097 + doe - 719468;
  std::uint64_t secs = std::uint64_t(days) * 86400 + h * 3600 + bcd(min) * 60 + bcd(sec);
  wall_ref_ns = secs * ns_per_s;
  wall_ref_tsc = tsc;
}

}  // namespace

void start_calibration() {
  // Exact sources settle the frequency at once; only a measurement waits.
  if (init_kvmclock() || init_cpuid()) return;
  std::uint64_t caps = hpet_reg(hpet_capabilities);
  std::uint64_t period = caps >> 32;
  if (caps == ~0ull || period == 0 || period > hpet_max_period_fs) return;  // no HPET
  hpet_reg(hpet_config) = hpet_reg(hpet_config) | 1;                        // counter on
  hpet_period_fs = period;
  hpet_mark = hpet_now();
}

void init() {
  if (hz == 0 && !finish_hpet()) init_pit();
  if (!wall_known) init_rtc();
}

std::uint64_t ticks_to_ns(std::uint64_t ticks) {
  return std::uint64_t(((unsigned __int128)ticks * ns_mult) >> 32);
}
std::uint64_t ns_to_ticks(std::uint64_t ns) {
  return std::uint64_t(((unsigned __int128)ns * ticks_mult) >> 32);
}
std::uint64_t monotonic_ns() {
  return ticks_to_ns(rdtsc());
}
std::uint64_t realtime_ns() {
  return wall_ref_ns + ticks_to_ns(rdtsc() - wall_ref_tsc);
}
std::uint64_t tsc_hz() {
  return hz;
}
const char* source() {
  return hz_source;
}

}  // namespace rz::clock
