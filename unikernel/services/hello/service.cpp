// The smallest service: greets, waits 10 ms on a timer, and ends the VM.
#include <cstdio>
#include <ringzero/os.hpp>
#include <ringzero/service.hpp>
#include <ringzero/timer.hpp>

using namespace std::chrono_literals;

void Service::start() {
  std::printf("Hello from ringzero %.*s!\n", int(os::version().size()), os::version().data());
  os::Timers::oneshot(10ms, [] {
    std::printf("hello: timer fired, %lld us after reset; goodbye\n",
                static_cast<long long>(os::uptime().count() / 1000));
    os::shutdown(os::exit_status::success);
  });
}
