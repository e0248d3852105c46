// The network as a service sees it: UDP sockets, the moment the interface
// has an address, name lookups, and the stack's clock. (TCP comes with its
// own header.)
//
//   void Service::start() {
//     rz::net::on_configured([] {
//       auto* s = rz::net::udp_bind(7);  // RFC 862 echo
//       s->on_receive([s](const rz::net::UdpDatagram& d) {
//         s->send_to(d.src, d.src_port, d.data, d.now_ms);
//       });
//     });
//   }
//
// Everything runs from the event loop; callbacks must not block. send_to()
// says at once what became of a datagram (rz::net::SendResult); one that
// waited for ARP and was dropped later reaches the socket's on_error.
#pragma once
#include <cstdint>
#include <functional>

#include "net/dns_resolver.hpp"
#include "net/udp.hpp"

namespace rz::net {

// Binds a UDP port on the interface (0: a free ephemeral port). nullptr when
// the VM has no NIC, the port is taken, or every socket is in use.
UdpSocket* udp_bind(std::uint16_t port);
// Runs `f` once the interface has an address: at once with a static ip=,
// when the DHCP lease is bound with ip=dhcp (or its fallback is used).
// Never, when the VM has no NIC.
void on_configured(std::function<void()> f);
// The stack's clock, milliseconds since boot (the `now` of send_to).
std::uint64_t now_ms();
// Looks up the IPv4 address of `name` (an A record) with the name server
// given as "nameserver=" on the command line, else the DHCP lease's first.
// nullopt: `done` runs once, later, with the address or why there is none
// (nxdomain, no_data, server_error, truncated, timeout after 7 s). An
// error: the lookup did not start (no NIC or name server: unreachable;
// bad_name; busy with 16 lookups), and `done` never runs.
std::optional<DnsResolver::Error> resolve(std::string_view name, DnsResolver::Callback done);

}  // namespace rz::net
