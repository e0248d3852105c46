// PCI configuration space (mechanism #1, ports 0xCF8/0xCFC), device lookup,
// BARs, capabilities and MSI-X.
#pragma once
#include <cstdint>
#include <optional>

namespace rz::pci {

struct Device {
  std::uint8_t bus, slot, function;
  std::uint16_t vendor, device;
};

std::uint32_t read32(const Device& d, std::uint8_t offset);
std::uint16_t read16(const Device& d, std::uint8_t offset);
std::uint8_t read8(const Device& d, std::uint8_t offset);
void write32(const Device& d, std::uint8_t offset, std::uint32_t value);
void write16(const Device& d, std::uint8_t offset, std::uint16_t value);

// The first function with this vendor and device id on buses 0..7.
std::optional<Device> find(std::uint16_t vendor, std::uint16_t device);

// BAR i: an I/O port base or a memory address (0 when not assigned; a
// 64-bit memory BAR is read with its upper half).
struct Bar {
  bool io;
  std::uint64_t address;
};
Bar bar(const Device& d, int index);

// Gives every unassigned BAR of the function an address (the firmware we
// boot with, qboot, assigns none): I/O ports from 0xC000, memory from
// 0xE0000000, below 4 GiB and inside the kernel's uncached window.
void assign_bars(const Device& d);

// Turns on I/O and memory decoding and bus mastering (DMA), and masks INTx.
void enable(const Device& d);

// Offset of capability `id` in configuration space, or 0.
std::uint8_t find_capability(const Device& d, std::uint8_t id);

// MSI-X: the table, its size, and one entry pointed at a local APIC vector.
class MsiX {
 public:
  // Finds the capability and maps the table; false when the device has none
  // or its table BAR is not in the kernel's MMIO window.
  bool init(const Device& d);
  std::uint16_t size() const { return size_; }
  // Routes entry `entry` to `vector` on this CPU, unmasked.
  void route(std::uint16_t entry, std::uint8_t vector);
  // Enables MSI-X on the function (INTx is then off).
  void enable();

 private:
  Device dev_{};
  std::uint8_t cap_ = 0;
  std::uint16_t size_ = 0;
  volatile std::uint32_t* table_ = nullptr;
};

}  // namespace rz::pci
