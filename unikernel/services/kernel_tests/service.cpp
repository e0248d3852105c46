// The service suites/kernel drives: one test per boot, chosen with
// "test=<name>" on the command line. Each test prints "<name>: ..." lines the
// suite reads, and ends the VM with status 0 when its own checks pass (1 when
// they do not). Tests meant to crash end with the kernel's crash statuses.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <ringzero/os.hpp>
#include <ringzero/service.hpp>
#include <ringzero/timer.hpp>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "drivers/serial.hpp"

using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const char* test, const char* what) {
  std::printf("%s: %s %s\n", test, what, ok ? "ok" : "FAIL");
  if (!ok) ++failures;
}

[[noreturn]] void finish() {
  os::shutdown(failures ? os::exit_status::failure : os::exit_status::success);
}

std::int64_t now_us() {
  return os::uptime().count() / 1000;
}

// ---- timers -------------------------------------------------------------------

void timer_oneshot() {
  auto armed = now_us();
  os::Timers::oneshot(100ms, [armed] {
    std::printf("timer_oneshot: fired elapsed_us=%lld\n", static_cast<long long>(now_us() - armed));
    os::shutdown(os::exit_status::success);
  });
  std::printf("timer_oneshot: armed\n");
}

// A 10 ms repeating timer for 1 s. It keeps its phase: the tick for period
// k comes at k * 10 ms after the start or a little later, and periods the
// CPU missed (the host did not run the VM) are skipped, not made up. A
// tick's period is therefore (its time - start) / 10 ms, rounded down, and
// the last tick's period says how many periods passed.
void timer_periodic() {
  static int count = 0;
  static std::int64_t started = 0, last = 0, max_late_us = 0;
  static os::Timers::id_t tick;
  started = now_us();
  tick = os::Timers::periodic(10ms, [] {
    last = now_us();
    ++count;
    max_late_us = std::max(max_late_us, (last - started) % 10000);
  });
  os::Timers::oneshot(1000ms, [] {
    std::printf("timer_periodic: count=%d periods=%lld max_late_us=%lld elapsed_us=%lld\n", count,
                static_cast<long long>((last - started) / 10000),
                static_cast<long long>(max_late_us), static_cast<long long>(now_us() - started));
    check(os::Timers::stop(tick), "timer_periodic", "stop");
    int at_stop = count;
    // Half a second: no tick after stop, and time for the host to read
    // what it needs of the running VM once it has seen the line above.
    os::Timers::oneshot(500ms, [at_stop] {
      check(count == at_stop, "timer_periodic", "no ticks after stop");
      finish();
    });
  });
  std::printf("timer_periodic: started\n");
}

// Each timer's deadline is bracketed when it is started: the queue reads
// its clock inside oneshot(), between the two readings here, so the real
// deadline lies in [before + delay, after + delay]. Timers must fire in an
// order those intervals allow: strictly by delay when the host ran the VM
// throughout (the intervals are microseconds wide and 10 ms apart), and
// either way only for two timers whose intervals a host pause made overlap.
void timer_order() {
  static std::vector<int> fired;
  static std::vector<std::pair<std::int64_t, std::int64_t>> deadlines;
  static os::Timers::id_t self_stopping;
  static int self_count = 0;
  int index = 0;
  for (int delay : {30, 10, 50, 20, 40}) {
    std::int64_t before = now_us();
    os::Timers::oneshot(std::chrono::milliseconds(delay), [index] { fired.push_back(index); });
    std::int64_t after = now_us();
    deadlines.emplace_back(before + delay * 1000, after + delay * 1000);
    ++index;
  }
  auto cancelled = os::Timers::oneshot(25ms, [] { fired.push_back(-1); });
  check(os::Timers::stop(cancelled), "timer_order", "stop before firing");
  check(!os::Timers::stop(cancelled), "timer_order", "second stop is false");
  self_stopping = os::Timers::periodic(5ms, [] {
    if (++self_count == 3) os::Timers::stop(self_stopping);
  });
  os::Timers::oneshot(80ms, [] {
    bool ordered = fired.size() == deadlines.size();
    for (std::size_t k = 1; ordered && k < fired.size(); ++k) {
      // The later one could not have had its deadline first.
      ordered = fired[k] >= 0 && deadlines[std::size_t(fired[k])].second >=
                                     deadlines[std::size_t(fired[k - 1])].first;
    }
    std::vector<int> seen = fired;
    std::sort(seen.begin(), seen.end());
    ordered = ordered && seen == std::vector<int>{0, 1, 2, 3, 4};
    if (!ordered) {
      for (int i : fired) {
        auto [lo, hi] =
            i >= 0 ? deadlines[std::size_t(i)] : std::pair<std::int64_t, std::int64_t>{};
        std::printf("timer_order: fired %d, deadline in [%lld, %lld] us\n", i,
                    static_cast<long long>(lo), static_cast<long long>(hi));
      }
    }
    check(ordered, "timer_order", "deadline order");
    check(self_count == 3, "timer_order", "periodic timer stops itself");
    check(os::Timers::active() == 0, "timer_order", "no timers left");
    finish();
  });
}

// ---- memory and the standard library --------------------------------------------

// Globals with constructors that must run at boot (.init_array): neither can
// be constant-initialized.
std::uint64_t constructed_at_ns = 0;
struct BootTimeRecorder {
  BootTimeRecorder() { constructed_at_ns = std::uint64_t(os::uptime().count()); }
} boot_time_recorder;
const std::map<std::string, int> global_table{{"one", 1}, {"two", 2}};

void heap_stress() {
  auto before = os::heap_stats();
  std::printf("heap_stress: before in_use=%zu live=%zu\n", before.in_use, before.live);
  {
    std::mt19937 rng(12345);
    std::vector<std::pair<void*, std::size_t>> blocks;
    for (int round = 0; round < 20000; ++round) {
      if (blocks.empty() || rng() % 3) {
        std::size_t size = 1 + rng() % ((rng() % 16) ? 512 : 65536);
        void* p = std::malloc(size);
        if (!p) break;
        std::memset(p, round & 0xFF, size);
        blocks.emplace_back(p, size);
      } else {
        std::size_t i = rng() % blocks.size();
        std::free(blocks[i].first);
        blocks[i] = blocks.back();
        blocks.pop_back();
      }
    }
    std::map<int, std::string> m;
    std::unordered_map<std::string, std::vector<int>> u;
    std::vector<std::shared_ptr<std::string>> shared;
    for (int i = 0; i < 5000; ++i) {
      m[i] = std::string(i % 100, 'x');
      u["key" + std::to_string(i)].assign(i % 50, i);
      shared.push_back(std::make_shared<std::string>(std::to_string(i)));
    }
    auto mid = os::heap_stats();
    std::printf("heap_stress: during in_use=%zu live=%zu peak=%zu\n", mid.in_use, mid.live,
                mid.peak);
    for (auto& [p, size] : blocks) std::free(p);
  }
  auto after = os::heap_stats();
  std::printf("heap_stress: after in_use=%zu live=%zu peak=%zu allocations=%llu frees=%llu\n",
              after.in_use, after.live, after.peak,
              static_cast<unsigned long long>(after.allocations),
              static_cast<unsigned long long>(after.frees));
  check(after.in_use == before.in_use && after.live == before.live, "heap_stress",
        "back to baseline");
  check(after.peak > before.in_use + 1000000, "heap_stress", "peak recorded");
  finish();
}

void stdlib() {
  const char* t = "stdlib";
  check(constructed_at_ns > 0 && global_table.at("two") == 2, t, "global constructors");
  std::vector<int> v(1000);
  std::iota(v.begin(), v.end(), 0);
  std::reverse(v.begin(), v.end());
  std::sort(v.begin(), v.end());
  check(std::accumulate(v.begin(), v.end(), 0) == 499500 && std::is_sorted(v.begin(), v.end()), t,
        "vector+algorithm");
  check(*std::lower_bound(v.begin(), v.end(), 500) == 500, t, "lower_bound");
  std::string s = "ring";
  s += "zero";
  s += std::to_string(42);
  check(s == "ringzero42" && s.find("zero") == 4, t, "string");
  std::map<std::string, int> m{{"b", 2}, {"a", 1}, {"c", 3}};
  check(m.begin()->first == "a" && m.size() == 3, t, "map");
  std::unordered_map<int, std::string> u;
  for (int i = 0; i < 1000; ++i) u[i] = std::to_string(i * i);
  check(u.size() == 1000 && u.at(31) == "961", t, "unordered_map");
  int captured = 7;
  std::function<int(int)> f = [captured](int x) { return x * captured; };
  check(f(6) == 42, t, "function");
  auto up = std::make_unique<std::vector<int>>(3, 9);
  check(up->size() == 3 && (*up)[2] == 9, t, "unique_ptr");
  auto sp = std::make_shared<std::string>("shared");
  std::weak_ptr<std::string> wp = sp;
  {
    auto sp2 = sp;
    check(sp.use_count() == 2, t, "shared_ptr count");
  }
  sp.reset();
  check(wp.expired(), t, "weak_ptr expires");
  auto t0 = std::chrono::steady_clock::now();
  volatile std::uint64_t spin = 0;
  for (int i = 0; i < 100000; ++i) spin = spin + i;
  auto t1 = std::chrono::steady_clock::now();
  check(t1 > t0, t, "steady_clock advances");
  auto wall = std::chrono::system_clock::now().time_since_epoch();
  std::printf(
      "stdlib: system_clock_s=%lld\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(wall).count()));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f|%5d|%-4s|%x", 3.14159, 42, "ab", 255);
  check(std::strcmp(buf, "3.142|   42|ab  |ff") == 0, t, "snprintf");
  check(std::strtol("-123", nullptr, 10) == -123, t, "strtol");
  finish();
}

// ---- exceptions ------------------------------------------------------------------

struct Counted {
  static inline int live = 0;
  Counted() { ++live; }
  ~Counted() { --live; }
};

struct ServiceError : std::runtime_error {
  int code;
  explicit ServiceError(int c) : std::runtime_error("service error"), code(c) {}
};

[[gnu::noinline]] void throw_deep(int depth) {
  Counted c;
  if (depth == 0) throw ServiceError(7);
  throw_deep(depth - 1);
}

void exceptions() {
  const char* t = "exceptions";
  try {
    throw std::runtime_error("boom");
  } catch (const std::exception& e) {
    check(std::strcmp(e.what(), "boom") == 0, t, "runtime_error caught");
  }
  try {
    throw_deep(10);
  } catch (const ServiceError& e) {
    check(e.code == 7 && Counted::live == 0, t, "custom type through 10 frames, destructors ran");
  }
  try {
    throw 42;
  } catch (int v) {
    check(v == 42, t, "int caught");
  }
  try {
    std::vector<int> v(3);
    (void)v.at(5);
    check(false, t, "vector::at throws");
  } catch (const std::out_of_range&) {
    check(true, t, "vector::at throws");
  }
  try {
    try {
      throw std::logic_error("inner");
    } catch (...) {
      throw;
    }
  } catch (const std::logic_error& e) {
    check(std::strcmp(e.what(), "inner") == 0, t, "rethrow");
  }
  std::function<void()> thrower = [] { throw std::invalid_argument("from a lambda"); };
  try {
    thrower();
  } catch (const std::invalid_argument&) {
    check(true, t, "through std::function");
  }
  // From a timer callback: the event loop is below this frame.
  os::Timers::oneshot(1ms, [t] {
    try {
      throw ServiceError(3);
    } catch (const ServiceError& e) {
      check(e.code == 3, t, "inside a timer callback");
    }
    finish();
  });
}

// ---- crashes ------------------------------------------------------------------------

// Hides a pointer from the optimizer, which would otherwise elide a malloc
// and free pair, drop a second free of the same pointer, or fold a call.
template <typename T>
T* opaque(T* p) {
  asm volatile("" : "+r"(p));
  return p;
}

[[gnu::noinline]] void kernel_tests_throw_uncaught() {
  throw std::runtime_error("nobody catches this");
}

extern "C" char __text_start[];
int data_word = 0xC3;  // "ret", in a no-execute page

[[gnu::noinline]] void kernel_tests_fault_null() {
  *static_cast<volatile int*>(nullptr) = 1;
}
[[gnu::noinline]] void kernel_tests_fault_write_text() {
  *reinterpret_cast<volatile char*>(__text_start) = 0;
}
[[gnu::noinline]] void kernel_tests_fault_exec_data() {
  reinterpret_cast<void (*)()>(opaque(&data_word))();
  asm volatile("");  // no tail call: keep this function's return address on the stack
}
// Recurses until the boot stack's guard page stops it.
[[gnu::noinline]] int kernel_tests_fault_stack_overflow(int n) {
  volatile char pad[512];
  pad[0] = char(n);
  if (n >= 0) return kernel_tests_fault_stack_overflow(n + 1) + pad[0];
  return pad[0];
}
[[gnu::noinline]] void kernel_tests_fault_ud() {
  __builtin_trap();
}
// Inline assembly: the compiler turns "1 / x" into a division-free select.
[[gnu::noinline]] unsigned kernel_tests_fault_div(unsigned divisor) {
  unsigned quotient;
  asm volatile("xor %%edx, %%edx; div %2" : "=a"(quotient) : "a"(1u), "r"(divisor) : "rdx");
  return quotient;
}

void fault(std::string_view kind) {
  std::printf("fault: %.*s\n", int(kind.size()), kind.data());
  if (kind == "null") kernel_tests_fault_null();
  if (kind == "write_text") kernel_tests_fault_write_text();
  if (kind == "exec_data") kernel_tests_fault_exec_data();
  if (kind == "stack_overflow") kernel_tests_fault_stack_overflow(0);
  if (kind == "ud") kernel_tests_fault_ud();
  if (kind == "div") kernel_tests_fault_div(0);
  std::printf("fault: no fault happened\n");
  os::shutdown(os::exit_status::failure);
}

void heap_error(std::string_view kind) {
  std::printf("heap_error: %.*s (heap debug %s)\n", int(kind.size()), kind.data(),
              os::heap_debug() ? "on" : "off");
  auto* p = opaque(static_cast<char*>(std::malloc(32)));
  if (kind == "double_free") {
    std::free(opaque(p));
    std::free(opaque(p));
  } else if (kind == "overrun") {
    opaque(p)[32] = 'x';
    std::free(opaque(p));
  } else if (kind == "invalid_free") {
    std::free(opaque(p + 8));
  }
  std::printf("heap_error: not detected\n");
  os::shutdown(os::exit_status::failure);
}

// ---- serial input -----------------------------------------------------------

// Interrupt-driven serial input end to end (UART -> ISA IRQ 4 -> IOAPIC ->
// vector -> ring -> event loop -> handler), with COM1 in loopback mode: what
// it sends comes back into its receiver. Chunks of 16 bytes take the
// "trigger level" path, the 5-byte tail the character-timeout one. Nothing
// may print while the loop is closed (it would come back as input).
void serial_input() {
  const char* t = "serial_input";
  static const std::string sent = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL{\"!\"}\n";
  static std::string got;
  static std::size_t posted = 0;
  static int waited_ms = 0;
  bool routed = rz::serial::on_input(rz::serial::com1, [](std::string_view b) { got += b; });
  if (!routed) {
    check(false, t, "on_input");
    finish();
  }
  rz::serial::set_loopback(rz::serial::com1, true);
  static os::Timers::id_t tick = 0;
  tick = os::Timers::periodic(1ms, [t] {
    bool done = got.size() >= sent.size();
    if (!done && got.size() >= posted && waited_ms < 1000) {
      std::size_t n = std::min<std::size_t>(16, sent.size() - posted);
      rz::serial::write(rz::serial::com1, sent.data() + posted, n);
      posted += n;
      return;
    }
    if (!done && ++waited_ms < 1000) return;
    os::Timers::stop(tick);
    rz::serial::set_loopback(rz::serial::com1, false);
    auto stats = rz::serial::input_stats(rz::serial::com1);
    std::printf("serial_input: received %zu of %zu bytes, %lu interrupts, %lu dropped\n",
                got.size(), sent.size(), stats.interrupts, stats.dropped);
    check(got == sent, t, "bytes in order");
    check(stats.interrupts >= (sent.size() + 15) / 16, t, "interrupt-driven");
    check(stats.bytes == sent.size() && stats.dropped == 0, t, "counted");
    finish();
  });
}

[[gnu::noinline]] void out_of_memory() {
  std::vector<std::unique_ptr<char[]>> hog;
  for (;;) hog.emplace_back(new char[1 << 20]);
}

}  // namespace

void Service::start() {
  std::string_view test = os::cmdline_arg("test");
  std::printf("kernel_tests: %.*s\n", int(test.size()), test.data());
  if (test == "banner") finish();
  if (test == "timer_oneshot") return timer_oneshot();
  if (test == "timer_periodic") return timer_periodic();
  if (test == "timer_order") return timer_order();
  if (test == "heap_stress") return heap_stress();
  if (test == "stdlib") return stdlib();
  if (test == "exceptions") return exceptions();
  if (test == "uncaught") kernel_tests_throw_uncaught();
  if (test == "fault") fault(os::cmdline_arg("kind"));
  if (test == "heap_error") heap_error(os::cmdline_arg("kind"));
  if (test == "serial_input") return serial_input();
  if (test == "oom") out_of_memory();
  if (test == "exit") os::shutdown(std::atoi(std::string(os::cmdline_arg("status")).c_str()));
  if (test == "idle") {
    std::printf("kernel_tests: idling\n");
    return;
  }
  std::printf("kernel_tests: unknown test \"%.*s\"\n", int(test.size()), test.data());
  os::shutdown(os::exit_status::failure);
}
