#include "kernel/eventloop.hpp"

#include <ringzero/timer.hpp>

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "kernel/panic.hpp"

namespace rz::eventloop {
namespace {

constexpr int max_pollers = 16;

TimerQueue queue;
Poller pollers[max_pollers];
int poller_count = 0;
Flusher flushers[max_pollers];
int flusher_count = 0;
// Written by interrupt handlers, read by the loop (one CPU: volatile is enough).
volatile bool pending = false;
volatile std::uint64_t armed_tsc = 0;  // the deadline the APIC timer holds; 0: none
Stats counters{};

void on_timer_interrupt() {
  ++counters.timer_interrupts;
  armed_tsc = 0;  // a TSC-deadline timer disarms itself when it fires
  pending = true;
}

// TSC value at which the timer should fire for a deadline in ns, rounded up
// so it never fires before the deadline is due.
std::uint64_t deadline_tsc(std::uint64_t ns) {
  return clock::ns_to_ticks(ns) + 1;
}

}  // namespace

void init() {
  interrupts::set_handler(interrupts::timer_vector, on_timer_interrupt);
}

TimerQueue& timers() {
  return queue;
}

void add_poller(Poller poller) {
  if (poller_count == max_pollers) panic("eventloop: more than %d pollers", max_pollers);
  pollers[poller_count++] = poller;
}

void add_flusher(Flusher flusher) {
  if (flusher_count == max_pollers) panic("eventloop: more than %d flushers", max_pollers);
  flushers[flusher_count++] = flusher;
}

void notify() {
  pending = true;
}

Stats stats() {
  return counters;
}

void run() {
  for (;;) {
    ++counters.passes;
    pending = false;
    for (int i = 0; i < poller_count; ++i) pollers[i]();
    queue.run_due(clock::monotonic_ns());
    for (int i = 0; i < flusher_count; ++i) flushers[i]();

    if (auto next = queue.next_deadline()) {
      std::uint64_t tsc = deadline_tsc(*next);
      if (tsc != armed_tsc) {
        armed_tsc = tsc;
        apic::arm_timer(tsc);
      }
    } else if (armed_tsc) {
      armed_tsc = 0;
      apic::disarm_timer();
    }

    cpu::disable_interrupts();
    if (pending) {
      cpu::enable_interrupts();
    } else {
      ++counters.halts;
      cpu::enable_interrupts_and_halt();
    }
  }
}

}  // namespace rz::eventloop

namespace os {

Timers::id_t Timers::oneshot(duration_t delay, handler_t handler) {
  auto now = rz::clock::monotonic_ns();
  return rz::eventloop::timers().start(
      now + std::uint64_t(std::max<std::int64_t>(delay.count(), 0)), 0, std::move(handler));
}

Timers::id_t Timers::periodic(duration_t first, duration_t period, handler_t handler) {
  if (period.count() <= 0) rz::panic("Timers::periodic: period must be positive");
  auto now = rz::clock::monotonic_ns();
  return rz::eventloop::timers().start(
      now + std::uint64_t(std::max<std::int64_t>(first.count(), 0)), std::uint64_t(period.count()),
      std::move(handler));
}

bool Timers::stop(id_t id) {
  return rz::eventloop::timers().stop(id);
}

std::size_t Timers::active() {
  return rz::eventloop::timers().active();
}

}  // namespace os
