// 16550 UART (COM1 for the console, COM2 for the control channel). Output is
// polled, one status read per 16-byte FIFO load.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rz::serial {

inline constexpr std::uint16_t com1 = 0x3F8;
inline constexpr std::uint16_t com2 = 0x2F8;

// 115200 8N1, FIFOs on, interrupts off.
void init(std::uint16_t port);
void write(std::uint16_t port, const char* data, std::size_t len);
// Reads one byte if one is waiting.
bool read(std::uint16_t port, char& out);
// Waits until every byte written has left the UART (FIFO and shift register
// empty): a VMM that stops the VM right after may otherwise drop the rest.
void flush(std::uint16_t port);

}  // namespace rz::serial
