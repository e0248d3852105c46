// The DNS server (see dns_server.hpp).
#include "net/dns_server.hpp"

namespace rz::net {

bool start_dns_server(Udp& udp, std::string_view spec) {
  (void)udp;
  (void)spec;
  return false;
}

}  // namespace rz::net
