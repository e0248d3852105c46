#include "drivers/pci.hpp"

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/paging.hpp"

namespace rz::pci {
namespace {

constexpr std::uint16_t config_address = 0xCF8, config_data = 0xCFC;
constexpr std::uint8_t reg_command = 0x04, reg_header_type = 0x0E, reg_bar0 = 0x10,
                       reg_capabilities = 0x34, reg_status = 0x06;
constexpr std::uint16_t command_io = 1 << 0, command_memory = 1 << 1, command_master = 1 << 2,
                        command_intx_off = 1 << 10;
constexpr std::uint16_t status_capabilities = 1 << 4;
constexpr std::uint8_t cap_msix = 0x11;

std::uint32_t address(const Device& d, std::uint8_t offset) {
  return 0x80000000u | (std::uint32_t(d.bus) << 16) | (std::uint32_t(d.slot) << 11) |
         (std::uint32_t(d.function) << 8) | (offset & 0xFC);
}

}  // namespace

std::uint32_t read32(const Device& d, std::uint8_t offset) {
  cpu::outl(config_address, address(d, offset));
  return cpu::inl(config_data);
}

std::uint16_t read16(const Device& d, std::uint8_t offset) {
  return std::uint16_t(read32(d, offset) >> ((offset & 2) * 8));
}

std::uint8_t read8(const Device& d, std::uint8_t offset) {
  return std::uint8_t(read32(d, offset) >> ((offset & 3) * 8));
}

void write32(const Device& d, std::uint8_t offset, std::uint32_t value) {
  cpu::outl(config_address, address(d, offset));
  cpu::outl(config_data, value);
}

void write16(const Device& d, std::uint8_t offset, std::uint16_t value) {
  std::uint32_t word = read32(d, offset);
  unsigned shift = (offset & 2) * 8;
  word = (word & ~(0xFFFFu << shift)) | (std::uint32_t(value) << shift);
  write32(d, offset, word);
}

std::optional<Device> find(std::uint16_t vendor, std::uint16_t device) {
  for (unsigned bus = 0; bus < 8; ++bus) {
    for (unsigned slot = 0; slot < 32; ++slot) {
      Device probe{std::uint8_t(bus), std::uint8_t(slot), 0, 0, 0};
      std::uint32_t id = read32(probe, 0);
      if ((id & 0xFFFF) == 0xFFFF) continue;
      unsigned functions = (read8(probe, reg_header_type) & 0x80) ? 8 : 1;
      for (unsigned fn = 0; fn < functions; ++fn) {
        Device d{std::uint8_t(bus), std::uint8_t(slot), std::uint8_t(fn), 0, 0};
        id = read32(d, 0);
        if ((id & 0xFFFF) == 0xFFFF) continue;
        d.vendor = std::uint16_t(id);
        d.device = std::uint16_t(id >> 16);
        if (d.vendor == vendor && d.device == device) return d;
      }
    }
  }
  return std::nullopt;
}

Bar bar(const Device& d, int index) {
  auto offset = std::uint8_t(reg_bar0 + 4 * index);
  std::uint32_t low = read32(d, offset);
  if (low & 1) return {true, low & ~std::uint32_t(3)};
  std::uint64_t addr = low & ~std::uint32_t(0xF);
  if (((low >> 1) & 3) == 2 && index < 5) addr |= std::uint64_t(read32(d, offset + 4)) << 32;
  return {false, addr};
}

namespace {
std::uint32_t next_io = 0xC000;
std::uint64_t next_memory = 0xE0000000;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}
}  // namespace

void assign_bars(const Device& d) {
  std::uint16_t cmd = read16(d, reg_command);
  write16(d, reg_command, cmd & ~(command_io | command_memory));  // no decoding while sizing
  for (int i = 0; i < 6; ++i) {
    auto offset = std::uint8_t(reg_bar0 + 4 * i);
    std::uint32_t old = read32(d, offset);
    write32(d, offset, 0xFFFFFFFF);
    std::uint32_t mask = read32(d, offset);
    write32(d, offset, old);
    if (mask == 0 || mask == 0xFFFFFFFF) continue;
    bool io = mask & 1;
    bool wide = !io && ((mask >> 1) & 3) == 2;
    if (io) {
      std::uint32_t size = (~(mask & ~std::uint32_t(3)) + 1) & 0xFFFF;
      if ((old & ~std::uint32_t(3)) == 0 && size) {
        next_io = std::uint32_t(align_up(next_io, size));
        write32(d, offset, next_io | 1);
        next_io += size;
      }
    } else {
      std::uint64_t size = std::uint32_t(~(mask & ~std::uint32_t(0xF)) + 1);
      bool unassigned = (old & ~std::uint32_t(0xF)) == 0 && (!wide || read32(d, offset + 4) == 0);
      if (unassigned && size) {
        next_memory = align_up(next_memory, size);
        write32(d, offset, std::uint32_t(next_memory) | (old & 0xF));
        if (wide) write32(d, offset + 4, 0);
        next_memory += size;
      }
    }
    if (wide) ++i;
  }
  write16(d, reg_command, cmd);
}

void enable(const Device& d) {
  std::uint16_t cmd = read16(d, reg_command);
  write16(d, reg_command, cmd | command_io | command_memory | command_master | command_intx_off);
}

std::uint8_t find_capability(const Device& d, std::uint8_t id) {
  if (!(read16(d, reg_status) & status_capabilities)) return 0;
  std::uint8_t at = read8(d, reg_capabilities) & 0xFC;
  for (int guard = 0; at && guard < 48; ++guard) {
    if (read8(d, at) == id) return at;
    at = read8(d, at + 1) & 0xFC;
  }
  return 0;
}

bool MsiX::init(const Device& d) {
  dev_ = d;
  cap_ = find_capability(d, cap_msix);
  if (!cap_) return false;
  size_ = std::uint16_t((read16(d, cap_ + 2) & 0x7FF) + 1);
  std::uint32_t table = read32(d, cap_ + 4);
  Bar b = bar(d, int(table & 7));
  std::uint64_t addr = b.address + (table & ~std::uint32_t(7));
  if (b.io || !b.address || !paging::is_mmio(addr)) return false;
  table_ = reinterpret_cast<volatile std::uint32_t*>(addr);
  return true;
}

void MsiX::route(std::uint16_t entry, std::uint8_t vector) {
  volatile std::uint32_t* e = table_ + 4 * entry;
  e[0] = 0xFEE00000u | (apic::id() << 12);  // fixed delivery, physical destination
  e[1] = 0;
  e[2] = vector;  // edge triggered
  e[3] = 0;       // unmasked
}

void MsiX::enable() {
  std::uint16_t control = read16(dev_, cap_ + 2);
  control = std::uint16_t((control | 0x8000) & ~0x4000);  // enable, no function mask
  write16(dev_, cap_ + 2, control);
}

}  // namespace rz::pci
