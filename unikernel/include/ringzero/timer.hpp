// Timers: callbacks after a delay, once or repeatedly. They run from the
// event loop, never from an interrupt, so a callback may do anything a
// service does. The CPU sleeps between deadlines (no periodic tick).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>

namespace os {

class Timers {
 public:
  using id_t = std::uint32_t;
  using duration_t = std::chrono::nanoseconds;
  using handler_t = std::function<void()>;

  // Calls `handler` once, `delay` from now.
  static id_t oneshot(duration_t delay, handler_t handler);
  // Calls `handler` every `period`, the first time `first` from now.
  static id_t periodic(duration_t first, duration_t period, handler_t handler);
  static id_t periodic(duration_t period, handler_t handler) {
    return periodic(period, period, std::move(handler));
  }
  // Stops a timer (also from its own callback); false if it was not active.
  static bool stop(id_t id);
  // Number of active timers.
  static std::size_t active();
};

}  // namespace os
