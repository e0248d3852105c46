// The timer queue behind os::Timers. It keeps no clock: every call that
// depends on time takes `now` (nanoseconds), so the host tests drive it.
//
// Deadlines live in a binary min-heap ordered by (deadline, creation order);
// a stopped timer is dropped from the table at once and its heap entry is
// skipped when it surfaces. Repeating timers keep their phase: the next
// deadline is the previous one plus the period, and periods missed while the
// CPU was busy are skipped, not delivered in a burst.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

namespace rz {

class TimerQueue {
 public:
  using Id = std::uint32_t;
  using Callback = std::function<void()>;

  // Starts a timer that fires at `deadline`, then every `period` ns if
  // period > 0. Ids are never 0 and not reused while a timer is active.
  Id start(std::uint64_t deadline, std::uint64_t period, Callback cb);
  // Stops a timer; false if it was not active. Safe inside callbacks,
  // including a timer's own.
  bool stop(Id id);
  // Runs every timer due at `now`, in deadline order; returns how many ran.
  // Timers started by callbacks with a deadline <= now run in the same call.
  std::size_t run_due(std::uint64_t now);
  // The earliest deadline of an active timer.
  std::optional<std::uint64_t> next_deadline();
  std::size_t active() const { return timers_.size() - (running_stopped_ && running_ ? 1 : 0); }

 private:
  struct Entry {
    std::uint64_t deadline;
    std::uint64_t order;
    Id id;
  };
  struct Timer {
    std::uint64_t deadline;
    std::uint64_t period;
    Callback callback;
  };
  static bool later(const Entry& a, const Entry& b) {
    return a.deadline != b.deadline ? a.deadline > b.deadline : a.order > b.order;
  }
  void push(std::uint64_t deadline, Id id);
  void drop_stale_top();

  std::vector<Entry> heap_;
  std::unordered_map<Id, Timer> timers_;
  Id next_id_ = 1;
  Id running_ = 0;  // the repeating timer whose callback is running
  bool running_stopped_ = false;
  std::uint64_t next_order_ = 0;
};

}  // namespace rz
