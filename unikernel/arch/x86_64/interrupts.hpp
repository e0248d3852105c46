// Interrupt vectors and their handlers. Handlers run on IST3 with interrupts
// off and must be short: they note that work is pending and return; the
// event loop does the work.
#pragma once
#include <cstdint>

namespace rz::interrupts {

inline constexpr std::uint8_t timer_vector = 0x20;
inline constexpr std::uint8_t first_device_vector = 0x30;
inline constexpr std::uint8_t spurious_vector = 0xFF;

using Handler = void (*)();

// Installs the handler for a vector (32..254).
void set_handler(std::uint8_t vector, Handler handler);
// A free vector for a device, or 0 when none is left.
std::uint8_t allocate_vector();
// Interrupts that arrived on a vector without a handler.
std::uint64_t unexpected_count();

}  // namespace rz::interrupts
