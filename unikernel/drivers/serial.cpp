#include "drivers/serial.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/interrupts.hpp"
#include "arch/x86_64/ioapic.hpp"
#include "kernel/eventloop.hpp"
#include "kernel/ring_buffer.hpp"

namespace rz::serial {
namespace {

// Register offsets and bits, 16550 data sheet.
constexpr std::uint16_t data = 0, interrupt_enable = 1, interrupt_id = 2, fifo_control = 2,
                        line_control = 3, modem_control = 4, line_status = 5;
constexpr std::uint8_t lsr_data_ready = 0x01, lsr_thr_empty = 0x20, lsr_transmitter_empty = 0x40;
constexpr std::uint8_t ier_rx_available = 0x01;
// OUT2 gates the UART's interrupt line onto the ISA bus on PC hardware.
constexpr std::uint8_t mcr_dtr_rts = 0x03, mcr_out2 = 0x08, mcr_loopback = 0x10;
// FIFO on, receive interrupt at 14 bytes (FCR bits 6-7 = 11); bits 1-2 clear
// both FIFOs.
constexpr std::uint8_t fcr_enable_14 = 0xC1, fcr_clear = 0x06;
constexpr unsigned rx_trigger = 14;
// IIR bits 0-3: 0100 = received data at the trigger level (0110 line
// status, 1100 character timeout: fewer bytes, none arriving for a while).
constexpr std::uint8_t iir_rx_trigger = 0x04;

// The receive side of one port with on_input().
struct Input {
  std::uint16_t port;
  InputHandler handler;
  RingBuffer<char, 16384> ring;
  volatile bool pending = false;
  std::uint64_t interrupts = 0, bytes = 0;  // written by the interrupt only
};

constexpr std::uint16_t input_ports[] = {com1, com2};
constexpr std::uint8_t input_irqs[] = {4, 3};
constexpr int input_count = 2;
Input* inputs[input_count] = {};
bool poller_added = false;

int input_index(std::uint16_t port) {
  for (int i = 0; i < input_count; ++i)
    if (input_ports[i] == port) return i;
  return -1;
}

// Interrupt context: empty the receive FIFO into the ring, then let the loop
// deliver. With the IIR saying "trigger level reached", at least rx_trigger
// bytes are waiting: read those without a status read each (every port
// access is a VM exit), then the rest one status read at a time.
template <int I>
void receive_interrupt() {
  Input& in = *inputs[I];
  const std::uint16_t port = in.port;
  ++in.interrupts;
  unsigned n = 0;
  auto take = [&](char c) {
    ++n;
    in.ring.push(c);  // counts it when the ring is full
  };
  if ((cpu::inb(port + interrupt_id) & 0x0F) == iir_rx_trigger)
    for (unsigned i = 0; i < rx_trigger; ++i) take(static_cast<char>(cpu::inb(port + data)));
  while (cpu::inb(port + line_status) & lsr_data_ready)
    take(static_cast<char>(cpu::inb(port + data)));
  in.bytes += n;
  in.pending = true;
  eventloop::notify();
}

constexpr interrupts::Handler receive_handlers[input_count] = {receive_interrupt<0>,
                                                               receive_interrupt<1>};

// Event loop: hand what the interrupts collected to each port's handler.
void deliver() {
  for (Input* in : inputs) {
    if (!in || !in->pending) continue;
    in->pending = false;  // before draining: a byte pushed after sets it again
    char chunk[256];
    std::size_t n = 0;
    while (auto c = in->ring.pop()) {
      chunk[n++] = *c;
      if (n == sizeof chunk) {
        if (in->handler) in->handler(std::string_view(chunk, n));
        n = 0;
      }
    }
    if (n && in->handler) in->handler(std::string_view(chunk, n));
  }
}

}  // namespace

void init(std::uint16_t port) {
  cpu::outb(port + interrupt_enable, 0x00);
  cpu::outb(port + line_control, 0x80);  // DLAB: divisor follows
  cpu::outb(port + data, 0x01);          // 115200 baud
  cpu::outb(port + interrupt_enable, 0x00);
  cpu::outb(port + line_control, 0x03);  // 8N1
  cpu::outb(port + fifo_control, fcr_enable_14 | fcr_clear);
  cpu::outb(port + modem_control, mcr_dtr_rts);
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

bool on_input(std::uint16_t port, InputHandler handler) {
  int i = input_index(port);
  if (i < 0) return false;
  if (inputs[i]) {
    inputs[i]->handler = std::move(handler);
    return true;
  }
  std::uint8_t vector = interrupts::allocate_vector();
  if (!vector) return false;
  auto* in = new Input{};
  in->port = port;
  in->handler = std::move(handler);
  inputs[i] = in;
  if (!poller_added) {
    eventloop::add_poller(deliver);
    poller_added = true;
  }
  interrupts::set_handler(vector, receive_handlers[i]);
  if (!ioapic::route_isa(input_irqs[i], vector)) return false;
  // The burst read in the interrupt relies on the 14-byte trigger (without
  // clearing: bytes already received stay).
  cpu::outb(port + fifo_control, fcr_enable_14);
  // The UART raises its line last: bytes already waiting interrupt at once.
  cpu::outb(port + modem_control, mcr_dtr_rts | mcr_out2);
  cpu::outb(port + interrupt_enable, ier_rx_available);
  return true;
}

InputStats input_stats(std::uint16_t port) {
  int i = input_index(port);
  if (i < 0 || !inputs[i]) return {};
  const Input& in = *inputs[i];
  return {in.interrupts, in.bytes, in.ring.dropped()};
}

void set_loopback(std::uint16_t port, bool on) {
  auto mcr = cpu::inb(port + modem_control);
  cpu::outb(port + modem_control, std::uint8_t(on ? (mcr | mcr_loopback) : (mcr & ~mcr_loopback)));
}

}  // namespace rz::serial
