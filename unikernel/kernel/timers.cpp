#include "kernel/timers.hpp"

#include <algorithm>

namespace rz {

void TimerQueue::push(std::uint64_t deadline, Id id) {
  heap_.push_back({deadline, next_order_++, id});
  std::push_heap(heap_.begin(), heap_.end(), later);
}

TimerQueue::Id TimerQueue::start(std::uint64_t deadline, std::uint64_t period, Callback cb) {
  Id id;
  do {
    id = next_id_++;
  } while (id == 0 || timers_.count(id));
  timers_.emplace(id, Timer{deadline, period, std::move(cb)});
  push(deadline, id);
  return id;
}

bool TimerQueue::stop(Id id) {
  if (id != 0 && id == running_) {
    // Erased after its callback returns; until then the callback runs in place.
    bool was_active = !running_stopped_;
    running_stopped_ = true;
    return was_active;
  }
  return timers_.erase(id) > 0;
}

// A heap entry is stale when its timer was stopped, or restarted under the
// same id with another deadline (only possible after the id space wraps).
void TimerQueue::drop_stale_top() {
  while (!heap_.empty()) {
    const Entry& top = heap_.front();
    auto it = timers_.find(top.id);
    if (it != timers_.end() && it->second.deadline == top.deadline) return;
    std::pop_heap(heap_.begin(), heap_.end(), later);
    heap_.pop_back();
  }
}

std::optional<std::uint64_t> TimerQueue::next_deadline() {
  drop_stale_top();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().deadline;
}

std::size_t TimerQueue::run_due(std::uint64_t now) {
  std::size_t ran = 0;
  for (;;) {
    drop_stale_top();
    if (heap_.empty() || heap_.front().deadline > now) return ran;
    Entry e = heap_.front();
    std::pop_heap(heap_.begin(), heap_.end(), later);
    heap_.pop_back();
    auto it = timers_.find(e.id);
    Timer& t = it->second;
    if (t.period == 0) {
      // The callback may start timers (rehashing the table): move it out first.
      Callback cb = std::move(t.callback);
      timers_.erase(it);
      cb();
    } else {
      std::uint64_t next = t.deadline + t.period;
      if (next <= now) next += (now - next) / t.period * t.period + t.period;
      t.deadline = next;
      push(next, e.id);
      // References into an unordered_map survive rehashing, so t stays valid
      // while the callback starts timers; stop() defers erasing it.
      running_ = e.id;
      running_stopped_ = false;
      t.callback();
      running_ = 0;
      if (running_stopped_) timers_.erase(e.id);
    }
    ++ran;
  }
}

}  // namespace rz
