#include "drivers/serial.hpp"

#include "arch/x86_64/cpu.hpp"

namespace rz::serial {
namespace {

// Register offsets and bits, 16550 data sheet.
constexpr std::uint16_t data = 0, interrupt_enable = 1, fifo_control = 2, line_control = 3,
                        modem_control = 4, line_status = 5;
constexpr std::uint8_t lsr_data_ready = 0x01, lsr_thr_empty = 0x20, lsr_transmitter_empty = 0x40;

}  // namespace

void init(std::uint16_t port) {
  cpu::outb(port + interrupt_enable, 0x00);
  cpu::outb(port + line_control, 0x80);  // DLAB: divisor follows
  cpu::outb(port + data, 0x01);          // 115200 baud
  cpu::outb(port + interrupt_enable, 0x00);
  cpu::outb(port + line_control, 0x03);   // 8N1
  cpu::outb(port + fifo_control, 0xC7);   // FIFO on, cleared, 14-byte threshold
  cpu::outb(port + modem_control, 0x03);  // DTR, RTS
}

void write(std::uint16_t port, const char* p, std::size_t len) {
  // With the FIFO on, "THR empty" means all 16 FIFO slots are free: one
  // status read (one VM exit) per 16 bytes rather than per byte.
  constexpr std::size_t fifo_depth = 16;
  for (std::size_t i = 0; i < len; i += fifo_depth) {
    while (!(cpu::inb(port + line_status) & lsr_thr_empty)) {
    }
    std::size_t n = len - i < fifo_depth ? len - i : fifo_depth;
    for (std::size_t j = 0; j < n; ++j) cpu::outb(port + data, static_cast<std::uint8_t>(p[i + j]));
  }
}

bool read(std::uint16_t port, char& out) {
  if (!(cpu::inb(port + line_status) & lsr_data_ready)) return false;
  out = static_cast<char>(cpu::inb(port + data));
  return true;
}

void flush(std::uint16_t port) {
  // Bounded: a UART that never drains must not hang the VM's exit.
  for (int i = 0; i < 1'000'000; ++i)
    if (cpu::inb(port + line_status) & lsr_transmitter_empty) return;
}

}  // namespace rz::serial
