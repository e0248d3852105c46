// The POSIX and glibc runtime pieces that the kernel, services and the C++
// runtime archives call: errno, clocks, sleeping, process identity, write(),
// and the pthread functions libstdc++ uses. One CPU runs one thread and C
// code is never preempted, so locks have nothing to exclude.
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/single_threaded.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <ringzero/os.hpp>

#include "arch/x86_64/clock.hpp"
#include "kernel/console.hpp"
#include "kernel/panic.hpp"

namespace {

int error_number = 0;

constexpr std::uint64_t ns_per_s = 1000000000;

// The clock's time in nanoseconds; false for clocks the kernel does not keep.
// CPU-time clocks are not kept: the kernel does not account CPU time.
bool read_clock(clockid_t id, std::uint64_t& ns) {
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM:
      ns = rz::clock::realtime_ns();
      return true;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:  // the VM never suspends, so no time passes outside MONOTONIC
    case CLOCK_BOOTTIME_ALARM:
      ns = rz::clock::monotonic_ns();
      return true;
    default:
      return false;
  }
}

int fail(int error) {
  error_number = error;
  return -1;
}

// pthread_once states (PTHREAD_ONCE_INIT is 0).
constexpr pthread_once_t once_running = 1, once_done = 2;

// Thread-specific data: a fixed table; values live as long as the one thread.
struct KeySlot {
  bool used;
  const void* value;
};
KeySlot keys[64];

// There is one thread; its id must not be 0, which std::thread::id reserves
// for "no thread".
constexpr pthread_t the_thread = 1;

}  // namespace

extern "C" {

// ---- errno and threads --------------------------------------------------------------

int* __errno_location() noexcept {
  return &error_number;
}

// Lets libstdc++ skip atomic operations (shared_ptr counts and the like).
char __libc_single_threaded = 1;

int pthread_once(pthread_once_t* once, void (*init)()) {
  if (*once == once_done) return 0;
  // Another thread would wait here; the only thread would wait for itself.
  if (*once == once_running) rz::panic("pthread_once: the init function called it again");
  *once = once_running;
  // If init throws, the next call runs it again (std::call_once requires it).
  struct Reset {
    pthread_once_t* once;
    ~Reset() {
      if (*once == once_running) *once = 0;
    }
  } reset{once};
  init();
  *once = once_done;
  return 0;
}

int pthread_mutex_init(pthread_mutex_t*, const pthread_mutexattr_t*) noexcept {
  return 0;
}
int pthread_mutex_destroy(pthread_mutex_t*) noexcept {
  return 0;
}
int pthread_mutex_lock(pthread_mutex_t*) noexcept {
  return 0;
}
int pthread_mutex_trylock(pthread_mutex_t*) noexcept {
  return 0;
}
int pthread_mutex_unlock(pthread_mutex_t*) noexcept {
  return 0;
}

// Nothing can wait on a condition variable: the only thread that could
// signal it is the one waiting, so a wait could never end. Waits fail with
// EDEADLK instead of hanging the VM; signals have nobody to wake.
int pthread_cond_init(pthread_cond_t*, const pthread_condattr_t*) noexcept {
  return 0;
}
int pthread_cond_destroy(pthread_cond_t*) noexcept {
  return 0;
}
int pthread_cond_signal(pthread_cond_t*) noexcept {
  return 0;
}
int pthread_cond_broadcast(pthread_cond_t*) noexcept {
  return 0;
}
int pthread_cond_wait(pthread_cond_t*, pthread_mutex_t*) {
  return EDEADLK;
}
int pthread_cond_timedwait(pthread_cond_t*, pthread_mutex_t*, const timespec*) {
  return EDEADLK;
}
int pthread_cond_clockwait(pthread_cond_t*, pthread_mutex_t*, clockid_t, const timespec*) {
  return EDEADLK;
}

// Destructors never run: the one thread never exits.
int pthread_key_create(pthread_key_t* key, void (*)(void*)) noexcept {
  for (pthread_key_t k = 0; k < sizeof(keys) / sizeof(keys[0]); ++k) {
    if (!keys[k].used) {
      keys[k] = {true, nullptr};
      *key = k;
      return 0;
    }
  }
  return EAGAIN;
}

int pthread_key_delete(pthread_key_t key) noexcept {
  if (key >= sizeof(keys) / sizeof(keys[0]) || !keys[key].used) return EINVAL;
  keys[key].used = false;
  return 0;
}

void* pthread_getspecific(pthread_key_t key) noexcept {
  if (key >= sizeof(keys) / sizeof(keys[0]) || !keys[key].used) return nullptr;
  return const_cast<void*>(keys[key].value);
}

int pthread_setspecific(pthread_key_t key, const void* value) noexcept {
  if (key >= sizeof(keys) / sizeof(keys[0]) || !keys[key].used) return EINVAL;
  keys[key].value = value;
  return 0;
}

pthread_t pthread_self() noexcept {
  return the_thread;
}

// glibc's <pthread.h> defines pthread_equal inline when optimizing, and C++
// allows no second definition: this one has another name and the C name as
// its assembler label.
int rz_pthread_equal(pthread_t a, pthread_t b) noexcept __asm__("pthread_equal");
int rz_pthread_equal(pthread_t a, pthread_t b) noexcept {
  return a == b;
}

// thread_local destructors: never run, the one thread never exits.
int __cxa_thread_atexit_impl(void (*)(void*), void*, void*) noexcept {
  return 0;
}

int sched_yield() noexcept {
  return 0;
}  // nothing else to run

// ---- time ---------------------------------------------------------------------------

int clock_gettime(clockid_t id, timespec* ts) noexcept {
  std::uint64_t ns;
  if (!read_clock(id, ns)) return fail(EINVAL);
  ts->tv_sec = time_t(ns / ns_per_s);
  ts->tv_nsec = long(ns % ns_per_s);
  return 0;
}

// Both clocks count TSC ticks converted to nanoseconds.
int clock_getres(clockid_t id, timespec* res) noexcept {
  std::uint64_t ns;
  if (!read_clock(id, ns)) return fail(EINVAL);
  if (res) *res = {0, 1};
  return 0;
}

int gettimeofday(timeval* tv, void* tz) noexcept {
  std::uint64_t ns = rz::clock::realtime_ns();
  tv->tv_sec = time_t(ns / ns_per_s);
  tv->tv_usec = suseconds_t(ns % ns_per_s / 1000);
  if (tz) *static_cast<struct timezone*>(tz) = {0, 0};  // the VM keeps UTC
  return 0;
}

time_t time(time_t* t) noexcept {
  auto now = time_t(rz::clock::realtime_ns() / ns_per_s);
  if (t) *t = now;
  return now;
}

// The kernel never blocks: services run as callbacks of one event loop on
// one stack, and sleeping in one would stall every timer and device. So
// sleeping fails with ENOSYS at once; services wait with os::Timers.
int nanosleep(const timespec*, timespec*) {
  return fail(ENOSYS);
}
int usleep(useconds_t) {
  return fail(ENOSYS);
}
unsigned sleep(unsigned seconds) {
  error_number = ENOSYS;
  return seconds;  // none of them slept
}

// ---- the process --------------------------------------------------------------------

pid_t getpid() noexcept {
  return 1;
}

long sysconf(int name) noexcept {
  constexpr long page_size = 4096;
  switch (name) {
    case _SC_PAGESIZE:  // also _SC_PAGE_SIZE
      return page_size;
    case _SC_NPROCESSORS_CONF:
    case _SC_NPROCESSORS_ONLN:
      return 1;
    case _SC_PHYS_PAGES:
      return long(os::memory_total() / page_size);
    case _SC_CLK_TCK:
      return 100;  // what Linux reports; nothing in the kernel counts ticks
    default:
      return fail(EINVAL);
  }
}

// Standard output and standard error are the console.
ssize_t write(int fd, const void* data, size_t len) {
  if (fd != STDOUT_FILENO && fd != STDERR_FILENO) return fail(EBADF);
  rz::console::write(static_cast<const char*>(data), len);
  return ssize_t(len);
}

// ---- fatal errors -------------------------------------------------------------------

[[noreturn]] void __assert_fail(const char* expr, const char* file, unsigned line,
                                const char* function) noexcept {
  rz::panic("assertion failed: %s (%s:%u, %s)", expr, file, line, function);
}

// Code built with -fstack-protector (the toolchain's libstdc++) lands here
// when a canary was overwritten.
[[noreturn]] void __stack_chk_fail() noexcept {
  rz::panic("stack smashing detected");
}

}  // extern "C"
