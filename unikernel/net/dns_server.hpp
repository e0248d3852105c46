// A DNS server (RFC 1035) over UDP port 53 for A records from configuration.
// (Contract for the conformance service; the implementation is being written.)
#pragma once
#include <string_view>

#include "net/udp.hpp"

namespace rz::net {

// Starts answering on UDP port 53 of `udp` for the records in `spec`
// ("name:a.b.c.d,name2:a.b.c.d", as given by the "dns=" command-line word).
// False, with one line logged through log_line(), when `spec` is malformed or
// the port is taken.
bool start_dns_server(Udp& udp, std::string_view spec);

}  // namespace rz::net
