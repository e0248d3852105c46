#include "kernel/ring_buffer.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

using rz::RingBuffer;

TEST_CASE("empty ring pops nothing") {
  RingBuffer<int, 4> r;
  CHECK(r.empty());
  CHECK_FALSE(r.pop().has_value());
}

TEST_CASE("FIFO order and wrap-around") {
  RingBuffer<int, 4> r;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 3; ++i) REQUIRE(r.push(next_in++));
    for (int i = 0; i < 3; ++i) {
      auto v = r.pop();
      REQUIRE(v.has_value());
      CHECK(*v == next_out++);
    }
  }
  CHECK(r.empty());
}

TEST_CASE("a full ring refuses and counts") {
  RingBuffer<char, 8> r;
  for (int i = 0; i < 8; ++i) CHECK(r.push('a'));
  CHECK(r.size() == 8);
  CHECK_FALSE(r.push('b'));
  CHECK_FALSE(r.push('c'));
  CHECK(r.dropped() == 2);
  CHECK(r.pop() == 'a');
  CHECK(r.push('d'));
  CHECK(r.size() == 8);
}

TEST_CASE("one producer thread, one consumer thread") {
  RingBuffer<std::uint32_t, 64> r;
  constexpr std::uint32_t n = 200000;
  std::thread producer([&] {
    for (std::uint32_t i = 0; i < n;) {
      if (r.push(i)) ++i;
    }
  });
  std::uint32_t expected = 0;
  while (expected < n) {
    if (auto v = r.pop()) {
      REQUIRE(*v == expected);
      ++expected;
    }
  }
  producer.join();
  CHECK(r.empty());
}
