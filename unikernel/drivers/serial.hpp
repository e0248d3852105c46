// 16550 UART (COM1 for the console, COM2 for the control channel). Output is
// polled, one status read per 16-byte FIFO load. Input is either polled
// (read()) or interrupt-driven (on_input()).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace rz::serial {

inline constexpr std::uint16_t com1 = 0x3F8;
inline constexpr std::uint16_t com2 = 0x2F8;

// 115200 8N1, FIFOs on (14-byte receive trigger), interrupts off.
void init(std::uint16_t port);
void write(std::uint16_t port, const char* data, std::size_t len);
// Reads one byte if one is waiting.
bool read(std::uint16_t port, char& out);
// Waits until every byte written has left the UART (FIFO and shift register
// empty): a VMM that stops the VM right after may otherwise drop the rest.
void flush(std::uint16_t port);

// Interrupt-driven input on COM1 (ISA IRQ 4) or COM2 (ISA IRQ 3), through the
// IOAPIC. The interrupt handler moves received bytes into a ring; the event
// loop hands them to `handler` in arrival order, in chunks of any size
// (never from the interrupt). Call after init(port); a second call replaces
// the handler. False for any other port or when no vector is left. Bytes
// that find the ring full are dropped and counted.
using InputHandler = std::function<void(std::string_view bytes)>;
bool on_input(std::uint16_t port, InputHandler handler);

struct InputStats {
  std::uint64_t interrupts;  // receive interrupts taken
  std::uint64_t bytes;       // bytes read from the UART
  std::uint64_t dropped;     // bytes lost to a full ring
};
// Zeros for a port without on_input().
InputStats input_stats(std::uint16_t port);

// The 16550's loopback mode (MCR bit 4): what the port sends comes back into
// its own receiver, receive interrupts included, and nothing leaves it. For
// self-tests of the input path.
void set_loopback(std::uint16_t port, bool on);

}  // namespace rz::serial
