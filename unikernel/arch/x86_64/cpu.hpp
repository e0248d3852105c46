// The x86_64 CPU: port and MSR access, CPUID, control registers, the
// descriptor tables and the interrupt frame.
#pragma once
#include <cstdint>

namespace rz::cpu {

// The registers isr.S saves, lowest address first.
struct InterruptFrame {
  std::uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  std::uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  std::uint64_t vector, error;
  // Pushed by the CPU.
  std::uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(InterruptFrame) == 22 * 8);

// Loads the kernel's GDT (with a TSS whose IST stacks every gate uses) and
// the IDT. Exceptions are reported from here on.
void init_descriptor_tables();

// Sets EFER.NXE when the CPU has it; returns whether it does.
bool enable_nx();

struct CpuidResult {
  std::uint32_t eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(std::uint32_t leaf, std::uint32_t subleaf = 0) {
  CpuidResult r;
  asm volatile("cpuid"
               : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
               : "a"(leaf), "c"(subleaf));
  return r;
}

inline std::uint64_t rdmsr(std::uint32_t msr) {
  std::uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (std::uint64_t(hi) << 32) | lo;
}
inline void wrmsr(std::uint32_t msr, std::uint64_t value) {
  asm volatile("wrmsr" ::"c"(msr), "a"(std::uint32_t(value)), "d"(std::uint32_t(value >> 32))
               : "memory");
}

inline void outb(std::uint16_t port, std::uint8_t v) {
  asm volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
inline void outw(std::uint16_t port, std::uint16_t v) {
  asm volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
inline void outl(std::uint16_t port, std::uint32_t v) {
  asm volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
inline std::uint8_t inb(std::uint16_t port) {
  std::uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
inline std::uint16_t inw(std::uint16_t port) {
  std::uint16_t v;
  asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
inline std::uint32_t inl(std::uint16_t port) {
  std::uint32_t v;
  asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

#define RZ_CPU_READ_CR(n)                         \
  inline std::uint64_t read_cr##n() {             \
    std::uint64_t v;                              \
    asm volatile("mov %%cr" #n ", %0" : "=r"(v)); \
    return v;                                     \
  }
RZ_CPU_READ_CR(0)
RZ_CPU_READ_CR(2)
RZ_CPU_READ_CR(3)
RZ_CPU_READ_CR(4)
#undef RZ_CPU_READ_CR
inline void write_cr3(std::uint64_t v) {
  asm volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}

inline void enable_interrupts() {
  asm volatile("sti" ::: "memory");
}
inline void disable_interrupts() {
  asm volatile("cli" ::: "memory");
}
// Enables interrupts and halts in one step: STI's one-instruction shadow
// means an interrupt that is already pending wakes the HLT rather than
// slipping in between.
inline void enable_interrupts_and_halt() {
  asm volatile("sti; hlt" ::: "memory");
}
[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}

inline constexpr std::uint32_t MSR_EFER = 0xC0000080;
inline constexpr std::uint32_t MSR_FS_BASE = 0xC0000100;

}  // namespace rz::cpu
