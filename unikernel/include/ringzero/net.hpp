// The network as a service sees it: UDP sockets, the moment the interface
// has an address, and the stack's clock. (TCP comes with its own header.)
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

}  // namespace rz::net
