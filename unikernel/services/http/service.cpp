// A standalone HTTP/1.1 server on port 80 with the standard routes of
// <ringzero/http.hpp> (/, /hello, /bytes/N, /echo, /stats), e.g.
//   ip=10.0.0.2/24 gw=10.0.0.1 http_max_connections=128
// It logs "http: listening on port 80 (N connections at most)" once it
// listens; without a NIC the VM ends with a failure status and one line why.
#include <cstdio>
#include <ringzero/http.hpp>
#include <ringzero/os.hpp>
#include <ringzero/service.hpp>

void Service::start() {
  if (!rz::net::start_http_server(80)) {
    std::printf("http: not started\n");
    os::shutdown(os::exit_status::failure);
  }
}
