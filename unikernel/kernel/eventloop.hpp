// The event loop: runs due timers and pending device work, then halts the
// CPU until the next interrupt. It never returns; os::shutdown() ends the VM.
#pragma once
#include <cstdint>

#include "kernel/timers.hpp"

namespace rz::eventloop {

// Installs the timer interrupt handler. Called once at boot.
void init();
[[noreturn]] void run();

// The kernel's timer queue (os::Timers uses it).
TimerQueue& timers();

// Device work: `poll` runs on every pass of the loop after an interrupt has
// marked work as pending with notify(). Drivers register one each.
using Poller = void (*)();
void add_poller(Poller poller);
// Called from interrupt handlers: the loop makes another pass before halting.
void notify();
// Runs at the end of every pass, after the pollers and the due timers, before
// the CPU halts: a driver hands the device what the pass queued, with one
// notification for the whole batch.
using Flusher = void (*)();
void add_flusher(Flusher flusher);

// Counters for the agent and the tests.
struct Stats {
  std::uint64_t passes;  // loop iterations
  std::uint64_t halts;   // times the CPU halted
  std::uint64_t timer_interrupts;
};
Stats stats();

}  // namespace rz::eventloop
