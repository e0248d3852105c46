#include "drivers/virtio_net.hpp"

#include <chrono>
#include <deque>
#include <memory>
#include <ringzero/timer.hpp>

#include "arch/x86_64/cpu.hpp"

#include "arch/x86_64/interrupts.hpp"
#include "drivers/pci.hpp"
#include "drivers/virtqueue.hpp"
#include "kernel/console.hpp"
#include "kernel/eventloop.hpp"

namespace rz::drivers::virtio_net {
namespace {

// Legacy virtio-pci registers (I/O BAR 0), virtio 1.2 §4.1.4.8.
constexpr std::uint16_t reg_device_features = 0x00, reg_driver_features = 0x04,
                        reg_queue_pfn = 0x08, reg_queue_size = 0x0C, reg_queue_select = 0x0E,
                        reg_queue_notify = 0x10, reg_status = 0x12, reg_config_vector = 0x14,
                        reg_queue_vector = 0x16;
// With MSI-X on, the device-specific configuration starts here.
constexpr std::uint16_t reg_device_config = 0x18;
constexpr std::uint8_t status_acknowledge = 1, status_driver = 2, status_driver_ok = 4,
                       status_failed = 128;
constexpr std::uint32_t feature_mac = 1u << 5;
constexpr std::uint16_t no_vector = 0xFFFF;
constexpr std::uint16_t rx_queue = 0, tx_queue = 1;

// struct virtio_net_hdr without VIRTIO_NET_F_MRG_RXBUF: 10 bytes, all zero
// on transmit (no offloads negotiated).
constexpr std::size_t net_header = 10;
// Receive buffers start this far into the packet buffer, so that a frame
// handed up keeps headroom for replies built in place.
constexpr std::size_t rx_offset = 64;
constexpr std::size_t pool_buffers = 1024;
// When the pool ran dry and left the receive ring empty, refilling is tried
// again after this long: an empty ring raises no interrupt that would bring
// the driver back (a partly filled one does, at its next frame).
constexpr auto refill_retry = std::chrono::milliseconds(1);
constexpr std::size_t tx_backlog_max = 256;

class VirtioNet final : public net::Nic {
 public:
  VirtioNet(const pci::Device& dev, std::uint16_t io) : dev_(dev), io_(io), pool_(pool_buffers) {}

  bool start();
  net::MacAddress mac() const override { return mac_; }
  bool transmit(net::PacketPtr frame) override;
  net::PacketPool& pool() override { return pool_; }
  net::NicStats stats() const override { return stats_; }

  static void interrupt();
  static void poll();
  static void flush();

 private:
  bool setup_queue(std::uint16_t index, virtio::Virtqueue& q, std::uint16_t vector_entry);
  void refill();
  void reclaim();
  void receive();
  void post(net::PacketPtr frame);
  void drain_backlog();
  void publish_tx();
  void notify(std::uint16_t queue) { cpu::outw(io_ + reg_queue_notify, queue); }

  pci::Device dev_;
  std::uint16_t io_;
  net::PacketPool pool_;
  net::MacAddress mac_;
  virtio::Virtqueue rx_, tx_;
  std::unique_ptr<net::PacketPtr[]> rx_slots_, tx_slots_;
  std::unique_ptr<std::uint16_t[]> rx_empty_, tx_free_;
  std::size_t rx_empty_count_ = 0, tx_free_count_ = 0;
  // Frames waiting for a free transmit descriptor, oldest first: a burst of
  // replies larger than the ring (a flood's) waits for the device's
  // completions instead of being dropped; beyond tx_backlog_max it is.
  std::deque<net::PacketPtr> tx_backlog_;
  net::NicStats stats_{};
  volatile bool pending_ = false;
  bool retry_armed_ = false;
};

VirtioNet* the_nic = nullptr;

bool VirtioNet::setup_queue(std::uint16_t index, virtio::Virtqueue& q, std::uint16_t vector_entry) {
  cpu::outw(io_ + reg_queue_select, index);
  std::uint16_t size = cpu::inw(io_ + reg_queue_size);
  if (!q.init(size)) return false;
  cpu::outl(io_ + reg_queue_pfn, q.pfn());
  cpu::outw(io_ + reg_queue_vector, vector_entry);
  return cpu::inw(io_ + reg_queue_vector) == vector_entry;
}

bool VirtioNet::start() {
  auto fail = [&](const char* why) {
    cpu::outb(io_ + reg_status, status_failed);
    console::print("virtio-net: %s; no network\n", why);
    return false;
  };
  cpu::outb(io_ + reg_status, 0);  // reset
  cpu::outb(io_ + reg_status, status_acknowledge);
  cpu::outb(io_ + reg_status, status_acknowledge | status_driver);
  std::uint32_t offered = cpu::inl(io_ + reg_device_features);
  cpu::outl(io_ + reg_driver_features, offered & feature_mac);

  pci::MsiX msix;
  if (!msix.init(dev_)) return fail("no usable MSI-X table");
  std::uint8_t vector = interrupts::allocate_vector();
  if (!vector) return fail("no free interrupt vector");
  interrupts::set_handler(vector, interrupt);
  msix.route(0, vector);
  msix.enable();
  cpu::outw(io_ + reg_config_vector, no_vector);
  if (!setup_queue(rx_queue, rx_, 0) || !setup_queue(tx_queue, tx_, 0))
    return fail("queue setup failed");

  if (offered & feature_mac) {
    for (int i = 0; i < 6; ++i)
      mac_.bytes[i] = cpu::inb(std::uint16_t(io_ + reg_device_config + i));
  } else {
    mac_ = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
  }

  rx_slots_ = std::make_unique<net::PacketPtr[]>(rx_.size());
  tx_slots_ = std::make_unique<net::PacketPtr[]>(tx_.size());
  rx_empty_ = std::make_unique<std::uint16_t[]>(rx_.size());
  tx_free_ = std::make_unique<std::uint16_t[]>(tx_.size());
  for (std::uint16_t i = 0; i < rx_.size(); ++i) rx_empty_[rx_empty_count_++] = i;
  for (std::uint16_t i = 0; i < tx_.size(); ++i) tx_free_[tx_free_count_++] = i;
  refill();
  cpu::outb(io_ + reg_status, status_acknowledge | status_driver | status_driver_ok);
  if (rx_.publish()) notify(rx_queue);
  eventloop::add_poller(poll);
  eventloop::add_flusher(flush);
  return true;
}

void VirtioNet::refill() {
  bool posted = false;
  while (rx_empty_count_) {
    auto p = pool_.alloc(rx_offset);
    if (!p) {
      ++stats_.rx_dropped_no_buffer;
      break;
    }
    std::uint16_t id = rx_empty_[--rx_empty_count_];
    rx_.post(id, p->data(), std::uint32_t(net::Packet::buffer_size - rx_offset), true);
    rx_slots_[id] = std::move(p);
    posted = true;
  }
  if (posted && rx_.publish()) notify(rx_queue);
}

void VirtioNet::reclaim() {
  virtio::UsedElement e;
  while (tx_.next_used(e)) {
    if (e.id >= tx_.size() || !tx_slots_[e.id]) continue;
    tx_slots_[e.id].reset();
    tx_free_[tx_free_count_++] = std::uint16_t(e.id);
  }
}

void VirtioNet::receive() {
  virtio::UsedElement e;
  // A bounded batch per pass keeps timers and transmit completions moving
  // under a flood; the loop comes back while work is pending.
  for (int budget = 64; budget > 0 && rx_.next_used(e); --budget) {
    if (e.id >= rx_.size() || !rx_slots_[e.id]) continue;
    net::PacketPtr p = std::move(rx_slots_[e.id]);
    rx_empty_[rx_empty_count_++] = std::uint16_t(e.id);
    if (e.len < net_header || !p->resize(e.len) || !p->pull_front(net_header)) continue;
    ++stats_.rx_frames;
    stats_.rx_bytes += p->size();
    if (receive_) receive_(std::move(p));
  }
  refill();
  if (rx_empty_count_ == rx_.size() && !retry_armed_) {
    retry_armed_ = true;
    os::Timers::oneshot(refill_retry, [this] {
      retry_armed_ = false;
      pending_ = true;  // the poller runs on the loop's next pass
      eventloop::notify();
    });
  }
}

bool VirtioNet::transmit(net::PacketPtr frame) {
  if (!frame) {
    ++stats_.tx_dropped_ring_full;
    return false;
  }
  if (!tx_free_count_ || !tx_backlog_.empty()) {
    reclaim();
    drain_backlog();
  }
  if (tx_free_count_ && tx_backlog_.empty()) {
    post(std::move(frame));
    return true;
  }
  if (tx_backlog_.size() >= tx_backlog_max) {
    ++stats_.tx_dropped_ring_full;
    return false;
  }
  tx_backlog_.push_back(std::move(frame));
  return true;
}

void VirtioNet::post(net::PacketPtr frame) {
  std::uint8_t* header = frame->push_front(net_header);
  if (!header) {
    ++stats_.tx_dropped_ring_full;  // no headroom: cannot happen with pool packets
    return;
  }
  for (std::size_t i = 0; i < net_header; ++i) header[i] = 0;
  std::uint16_t id = tx_free_[--tx_free_count_];
  ++stats_.tx_frames;
  stats_.tx_bytes += frame->size() - net_header;
  tx_.post(id, frame->data(), std::uint32_t(frame->size()), false);
  tx_slots_[id] = std::move(frame);
  // The device sees the frame at the end of the loop's pass (flush()), with
  // the rest of the pass's frames, or now when the ring has no room left.
  if (!tx_free_count_) publish_tx();
}

void VirtioNet::publish_tx() {
  if (tx_.publish()) {
    ++stats_.tx_notifies;
    notify(tx_queue);
  }
}

void VirtioNet::drain_backlog() {
  while (!tx_backlog_.empty() && tx_free_count_) {
    net::PacketPtr frame = std::move(tx_backlog_.front());
    tx_backlog_.pop_front();
    post(std::move(frame));
  }
}

void VirtioNet::interrupt() {
  // MSI-X: no ISR register to read; the loop does the work.
  if (!the_nic) return;
  ++the_nic->stats_.interrupts;
  the_nic->pending_ = true;
  eventloop::notify();
}

void VirtioNet::flush() {
  if (the_nic) the_nic->publish_tx();
}

void VirtioNet::poll() {
  VirtioNet* nic = the_nic;
  if (!nic || !nic->pending_) return;
  nic->pending_ = false;
  nic->reclaim();
  nic->drain_backlog();
  nic->receive();
  // Frames left over (the batch limit): another pass of the loop.
  if (nic->rx_.has_used()) {
    nic->pending_ = true;
    eventloop::notify();
  }
}

}  // namespace

net::Nic* probe() {
  auto dev = pci::find(0x1AF4, 0x1000);
  if (!dev) return nullptr;
  pci::assign_bars(*dev);
  pci::Bar io = pci::bar(*dev, 0);
  if (!io.io || !io.address) {
    console::print("virtio-net: BAR 0 is not an assigned I/O range; no network\n");
    return nullptr;
  }
  pci::enable(*dev);
  auto* nic = new VirtioNet(*dev, std::uint16_t(io.address));
  the_nic = nic;
  if (!nic->start()) {
    the_nic = nullptr;
    delete nic;
    return nullptr;
  }
  return nic;
}

}  // namespace rz::drivers::virtio_net
