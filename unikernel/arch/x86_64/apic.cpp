#include "arch/x86_64/apic.hpp"

#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/interrupts.hpp"

namespace rz::apic {
namespace {

// Registers (offsets into the xAPIC page; x2APIC MSR = 0x800 + offset / 16),
// SDM Vol. 3 Table 10-1 and 10-6.
constexpr std::uint32_t reg_id = 0x20, reg_tpr = 0x80, reg_eoi = 0xB0, reg_svr = 0xF0,
                        reg_lvt_timer = 0x320, reg_lvt_lint0 = 0x350, reg_lvt_error = 0x370,
                        reg_timer_initial = 0x380, reg_timer_current = 0x390,
                        reg_timer_divide = 0x3E0;
constexpr std::uint32_t msr_apic_base = 0x1B, msr_tsc_deadline = 0x6E0;
constexpr std::uint64_t apic_base_enable = 1u << 11, apic_base_x2apic = 1u << 10;
constexpr std::uint32_t lvt_masked = 1u << 16, lvt_tsc_deadline = 2u << 17;
constexpr std::uint32_t svr_enable = 1u << 8;
constexpr std::uint32_t divide_by_1 = 0xB;

bool use_x2apic = false;
bool use_tsc_deadline = false;
volatile std::uint32_t* mmio = nullptr;
std::uint64_t measured_timer_hz = 0;  // one-shot mode only

// One-shot mode calibration: the APIC count and the TSC at its start.
using CountMark = clock::Stamped<std::uint32_t>;
CountMark calibration_start{};

void write(std::uint32_t reg, std::uint32_t value) {
  if (use_x2apic)
    cpu::wrmsr(0x800 + reg / 16, value);
  else
    mmio[reg / 4] = value;
}

std::uint32_t read(std::uint32_t reg) {
  return use_x2apic ? std::uint32_t(cpu::rdmsr(0x800 + reg / 16)) : mmio[reg / 4];
}

// The legacy PICs stay masked for good; with LINT0 masked as well, nothing
// they do reaches the CPU.
void mask_legacy_pic() {
  cpu::outb(0x21, 0xFF);
  cpu::outb(0xA1, 0xFF);
}

CountMark read_count() {
  return clock::read_stamped([] { return read(reg_timer_current); });
}

}  // namespace

void init() {
  mask_legacy_pic();
  auto features = cpu::cpuid(1);
  use_x2apic = features.ecx & (1u << 21);
  use_tsc_deadline = features.ecx & (1u << 24);
  std::uint64_t base = cpu::rdmsr(msr_apic_base);
  if (use_x2apic) {
    cpu::wrmsr(msr_apic_base, base | apic_base_enable | apic_base_x2apic);
  } else {
    cpu::wrmsr(msr_apic_base, base | apic_base_enable);
    mmio = reinterpret_cast<volatile std::uint32_t*>(base & ~0xFFFull);
  }
  write(reg_tpr, 0);
  write(reg_lvt_lint0, lvt_masked);
  write(reg_lvt_error, lvt_masked);
  write(reg_svr, svr_enable | interrupts::spurious_vector);
  if (use_tsc_deadline) {
    write(reg_lvt_timer, lvt_tsc_deadline | interrupts::timer_vector);
    return;
  }
  // One-shot mode (TCG has no TSC-deadline mode) needs the timer's rate:
  // let it count down, masked, while the rest of the kernel starts.
  write(reg_timer_divide, divide_by_1);
  write(reg_lvt_timer, lvt_masked | interrupts::timer_vector);
  write(reg_timer_initial, 0xFFFFFFFF);
  calibration_start = read_count();
}

void finish_init() {
  if (use_tsc_deadline) return;
  // clock::init() has waited for its own calibration window, so this span
  // is long enough; still insist on the reads' uncertainty staying < 0.1 %.
  CountMark end;
  std::uint64_t span;
  do {
    end = read_count();
    span = end.tsc - calibration_start.tsc;
  } while ((calibration_start.bracket + end.bracket) * 1000 > span &&
           clock::ticks_to_ns(span) < 50'000'000);
  std::uint64_t counted = calibration_start.value - end.value;
  measured_timer_hz =
      std::uint64_t((unsigned __int128)counted * 1'000'000'000 / clock::ticks_to_ns(span));
  write(reg_timer_initial, 0);
  write(reg_lvt_timer, interrupts::timer_vector);
}

void arm_timer(std::uint64_t tsc) {
  if (use_tsc_deadline) {
    cpu::wrmsr(msr_tsc_deadline, tsc ? tsc : 1);
    return;
  }
  std::uint64_t now = clock::rdtsc();
  std::uint64_t count = 1;
  if (tsc > now) {
    unsigned __int128 c =
        (unsigned __int128)clock::ticks_to_ns(tsc - now) * measured_timer_hz / 1'000'000'000;
    count = c < 1 ? 1 : (c > 0xFFFFFFFF ? 0xFFFFFFFF : std::uint64_t(c));
  }
  write(reg_timer_initial, std::uint32_t(count));
}

void disarm_timer() {
  if (use_tsc_deadline)
    cpu::wrmsr(msr_tsc_deadline, 0);
  else
    write(reg_timer_initial, 0);
}

void eoi() {
  write(reg_eoi, 0);
}

bool x2apic() {
  return use_x2apic;
}
bool tsc_deadline() {
  return use_tsc_deadline;
}
std::uint32_t id() {
  return use_x2apic ? read(reg_id) : read(reg_id) >> 24;
}

}  // namespace rz::apic
