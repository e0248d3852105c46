// Descriptor tables: the GDT's TSS (for the IST stacks) and the IDT.
#include "arch/x86_64/cpu.hpp"

#include <cstddef>

#include "arch/x86_64/stacks.hpp"

extern "C" std::uint64_t gdt[];
extern "C" char isr_stubs[];

namespace rz::cpu {
namespace {

constexpr std::uint16_t kernel_code_selector = 0x08;
constexpr std::uint16_t tss_selector = 0x18;
constexpr std::size_t isr_stub_size = 16;  // isr.S aligns each stub to 16 bytes

struct [[gnu::packed]] Tss {
  std::uint32_t reserved0;
  std::uint64_t rsp[3];
  std::uint64_t reserved1;
  std::uint64_t ist[7];
  std::uint64_t reserved2;
  std::uint16_t reserved3;
  std::uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);  // SDM Vol. 3 Figure 8-11

struct [[gnu::packed]] IdtEntry {
  std::uint16_t offset_low;
  std::uint16_t selector;
  std::uint8_t ist;
  std::uint8_t type_attr;
  std::uint16_t offset_mid;
  std::uint32_t offset_high;
  std::uint32_t reserved;
};
static_assert(sizeof(IdtEntry) == 16);  // SDM Vol. 3 Figure 6-8

struct [[gnu::packed]] TablePointer {
  std::uint16_t limit;
  std::uint64_t base;
};

Tss tss;
alignas(16) IdtEntry idt[256];

// IST1: faults that can strike with any stack state (NMI, double fault,
// machine check); IST2: the other exceptions; IST3: device interrupts.
std::uint8_t ist_for(int vector) {
  if (vector == 2 || vector == 8 || vector == 18) return 1;
  if (vector < 32) return 2;
  return 3;
}

}  // namespace

void init_descriptor_tables() {
  for (int i = 0; i < stacks::ist_count; ++i) tss.ist[i] = stacks::ist(i).top;
  tss.iomap_base = sizeof(Tss);  // no I/O permission bitmap

  // 64-bit available TSS descriptor (type 9, present), SDM Vol. 3 Figure 8-4.
  auto base = reinterpret_cast<std::uint64_t>(&tss);
  std::uint64_t limit = sizeof(Tss) - 1;
  gdt[tss_selector / 8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
                          (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
  gdt[tss_selector / 8 + 1] = base >> 32;
  TablePointer gdtr{5 * 8 - 1, reinterpret_cast<std::uint64_t>(gdt)};
  asm volatile("lgdt %0" ::"m"(gdtr));
  asm volatile("ltr %0" ::"r"(tss_selector));

  for (int v = 0; v < 256; ++v) {
    auto handler = reinterpret_cast<std::uint64_t>(isr_stubs + v * isr_stub_size);
    idt[v] = IdtEntry{
        .offset_low = std::uint16_t(handler),
        .selector = kernel_code_selector,
        .ist = ist_for(v),
        .type_attr = 0x8E,  // present, DPL 0, 64-bit interrupt gate (IF cleared on entry)
        .offset_mid = std::uint16_t(handler >> 16),
        .offset_high = std::uint32_t(handler >> 32),
        .reserved = 0,
    };
  }
  TablePointer idtr{sizeof(idt) - 1, reinterpret_cast<std::uint64_t>(idt)};
  asm volatile("lidt %0" ::"m"(idtr));
}

bool enable_nx() {
  if (cpuid(0x80000000).eax < 0x80000001) return false;
  if (!(cpuid(0x80000001).edx & (1u << 20))) return false;
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | (1u << 11));
  return true;
}

}  // namespace rz::cpu
