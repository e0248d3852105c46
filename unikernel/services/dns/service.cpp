// A standalone DNS server: answers A queries on UDP port 53 for the records
// given on the kernel command line, e.g.
//   ip=10.0.0.2/24 dns=www.example.test:10.0.0.50,www.example.test:10.0.0.51
// (see net/dns_server.hpp for what each query gets). The server logs
// "dns: serving N records on port 53" when it starts; without a NIC or with
// a bad configuration the VM ends with a failure status and one line why.
#include <cstdio>
#include <ringzero/os.hpp>
#include <ringzero/service.hpp>

#include "net/dns_server.hpp"
#include "net/stack_core.hpp"

void Service::start() {
  auto spec = os::cmdline_arg("dns");
  if (spec.empty()) {
    std::printf("dns: no records: give dns=name:a.b.c.d,... on the command line\n");
    os::shutdown(os::exit_status::failure);
  }
  auto* core = rz::net::stack_core();
  if (!core) {
    std::printf("dns: no network interface\n");
    os::shutdown(os::exit_status::failure);
  }
  // start_dns_server() logs its own line, success or not.
  if (!rz::net::start_dns_server(core->udp(), spec)) {
    std::printf("dns: not started\n");
    os::shutdown(os::exit_status::failure);
  }
}
