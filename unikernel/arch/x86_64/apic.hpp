// The local APIC: interrupt delivery and the one-shot timer behind every
// kernel timer. Tickless: the timer is armed for the next deadline only.
#pragma once
#include <cstdint>

namespace rz::apic {

// Masks the legacy 8259 PICs, enables the local APIC (x2APIC when the CPU has
// it) and sets up its timer: TSC-deadline mode when available, else one-shot
// mode, whose rate is measured against the TSC between init() and
// finish_init() (called after clock::init()).
void init();
void finish_init();

// Arms the timer to interrupt at (or just after) TSC value `tsc`; a deadline
// in the past interrupts at once.
void arm_timer(std::uint64_t tsc);
void disarm_timer();

void eoi();

bool x2apic();
bool tsc_deadline();
std::uint32_t id();

}  // namespace rz::apic
