// TCP as a service sees it: listen and accept, connect, and the callbacks
// of a connection (rz::net::TcpConnection, net/tcp.hpp).
//
//   void Service::start() {
//     rz::net::on_configured([] {
//       rz::net::tcp_listen(7, [](rz::net::TcpConnection::Ptr c) {  // RFC 862 echo
//         c->on_readable([c] {
//           std::uint8_t buf[2048];
//           while (c->readable() && c->write_space()) {
//             std::size_t n = c->read({buf, std::min(sizeof buf, c->write_space())});
//             c->write({buf, n});
//           }
//           if (c->eof()) c->close();
//         });
//         c->on_writable([c] { /* room again: read on */ });
//       });
//     });
//   }
//
// Everything runs from the event loop; callbacks must not block. A
// connection lives while the stack needs it or the service holds its Ptr;
// a callback that captures the Ptr is dropped when the connection ends
// (on_closed), so that cycle breaks by itself.
#pragma once
#include <cstdint>

#include "net/tcp.hpp"

namespace rz::net {

// Accepts connections on `port` (see Tcp::listen); false when the port is
// taken or the VM has no NIC.
bool tcp_listen(std::uint16_t port, Tcp::Accept on_accept, std::size_t backlog = 0);
void tcp_unlisten(std::uint16_t port);
// Opens a connection (on_connected tells when it is up); nullptr when it
// cannot start (no NIC or address, no free port).
TcpConnection::Ptr tcp_connect(Ipv4Address dst, std::uint16_t port, std::uint16_t local_port = 0);

}  // namespace rz::net
