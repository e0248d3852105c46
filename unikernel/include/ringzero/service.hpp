// A service is the one application linked into a ringzero image. The kernel
// boots, then calls Service::start() once; from there everything happens in
// callbacks (timers, and later network and console events) from the event
// loop. Returning from start() does not end the VM: call os::shutdown().
#pragma once

class Service {
 public:
  // Defined by the service.
  static void start();
};
