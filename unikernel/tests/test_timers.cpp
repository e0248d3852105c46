#include "kernel/timers.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

using rz::TimerQueue;

TEST_CASE("an empty queue has no deadline and runs nothing") {
  TimerQueue q;
  CHECK_FALSE(q.next_deadline().has_value());
  CHECK(q.run_due(1'000'000) == 0);
}

TEST_CASE("one-shot timers fire once, in deadline order, not before they are due") {
  TimerQueue q;
  std::vector<int> fired;
  for (int d : {30, 10, 50, 20, 40}) q.start(d, 0, [&fired, d] { fired.push_back(d); });
  CHECK(q.next_deadline() == 10);
  CHECK(q.run_due(9) == 0);
  CHECK(q.run_due(25) == 2);
  CHECK(fired == std::vector<int>{10, 20});
  CHECK(q.next_deadline() == 30);
  CHECK(q.run_due(1000) == 3);
  CHECK(fired == std::vector<int>{10, 20, 30, 40, 50});
  CHECK(q.active() == 0);
  CHECK(q.run_due(2000) == 0);
}

TEST_CASE("equal deadlines fire in the order the timers were started") {
  TimerQueue q;
  std::vector<int> fired;
  for (int i = 0; i < 10; ++i) q.start(100, 0, [&fired, i] { fired.push_back(i); });
  q.run_due(100);
  CHECK(fired == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("stopped timers never fire") {
  TimerQueue q;
  int fired = 0;
  auto a = q.start(10, 0, [&] { ++fired; });
  q.start(20, 0, [&] { ++fired; });
  CHECK(q.stop(a));
  CHECK_FALSE(q.stop(a));
  CHECK(q.active() == 1);
  CHECK(q.next_deadline() == 20);
  q.run_due(100);
  CHECK(fired == 1);
}

TEST_CASE("a repeating timer keeps its phase and skips missed periods") {
  TimerQueue q;
  std::vector<std::uint64_t> at;
  std::uint64_t now = 0;
  q.start(10, 10, [&] { at.push_back(now); });
  for (now = 0; now <= 50; now += 5) q.run_due(now);
  CHECK(at == std::vector<std::uint64_t>{10, 20, 30, 40, 50});
  CHECK(q.next_deadline() == 60);
  now = 95;  // the CPU was busy: 60, 70, 80, 90 missed
  CHECK(q.run_due(now) == 1);
  CHECK(q.next_deadline() == 100);
}

TEST_CASE("a repeating timer can stop itself; a one-shot can start another") {
  TimerQueue q;
  int ticks = 0;
  TimerQueue::Id self = 0;
  self = q.start(1, 1, [&] {
    if (++ticks == 3) CHECK(q.stop(self));
  });
  bool chained = false;
  q.start(2, 0, [&] { q.start(2, 0, [&] { chained = true; }); });
  for (std::uint64_t now = 0; now < 20; ++now) q.run_due(now);
  CHECK(ticks == 3);
  CHECK(chained);  // a timer due at once runs in the same pass
  CHECK(q.active() == 0);
  CHECK_FALSE(q.next_deadline().has_value());
}

TEST_CASE("a callback may stop other timers, including ones due in the same pass") {
  TimerQueue q;
  int fired = 0;
  TimerQueue::Id victim = 0;
  q.start(5, 0, [&] { q.stop(victim); });
  victim = q.start(6, 0, [&] { ++fired; });
  q.run_due(10);
  CHECK(fired == 0);
}

TEST_CASE("randomized against a sorted model") {
  std::mt19937_64 rng(7);
  TimerQueue q;
  std::vector<std::uint64_t> fired;
  std::vector<std::pair<std::uint64_t, TimerQueue::Id>> live;
  for (int i = 0; i < 5000; ++i) {
    std::uint64_t d = rng() % 100000;
    auto id = q.start(d, 0, [&fired, d] { fired.push_back(d); });
    live.emplace_back(d, id);
  }
  std::vector<std::uint64_t> expected;
  for (auto [d, id] : live) {
    if (rng() % 4 == 0)
      CHECK(q.stop(id));
    else
      expected.push_back(d);
  }
  std::sort(expected.begin(), expected.end());
  for (std::uint64_t now = 0; now < 100000; now += 997) q.run_due(now);
  q.run_due(100000);
  CHECK(fired == expected);
  CHECK(q.active() == 0);
}
