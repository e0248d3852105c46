// virtio-net over PCI (the transitional device 1AF4:1000, driven through its
// legacy I/O-port interface), interrupt-driven through MSI-X. The receive
// ring is kept full of pool buffers; a received frame goes up the stack in
// the buffer the device wrote it to; a sent frame's buffer returns to the
// pool when the device hands it back.
#pragma once
#include "net/nic.hpp"

namespace rz::drivers::virtio_net {

// Finds and starts the first virtio-net device; nullptr when there is none
// (or it cannot be driven: the reason goes to the console).
net::Nic* probe();

}  // namespace rz::drivers::virtio_net
