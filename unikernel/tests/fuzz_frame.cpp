// libFuzzer target: arbitrary frames, interleaved with clock advances and
// datagrams sent from above, into a stack over a fake NIC.
//
// The first byte picks the stack: even, a static address with a UDP echo
// socket and a TCP echo listener on port 7 (small TCP buffers, so windows
// fill); odd, ip=dhcp (the DHCP client, with one ARP probe).
// Then a sequence of records: kind (1 byte), length (1 byte, times 8 for
// kind 2), then that many bytes:
//   kind % 4 == 0  the bytes as a frame, as they are;
//   kind % 4 == 1  advance the clock by (first byte * 100) ms, in ticks;
//   kind % 4 == 2  the bytes as a frame to our MAC, and if it is IPv4 its
//                  header, ICMP and TCP checksums fixed up and a UDP
//                  checksum zeroed (so that the fuzzer gets past them into
//                  reassembly, ICMP, UDP, DHCP and TCP);
//   kind % 4 == 3  send the bytes as an IPv4 datagram (protocol 253) to
//                  10.0.0.<first byte>.
// Every frame the stack sends is checked (size, IPv4 header checksum, ICMP,
// UDP and TCP checksums of whole datagrams), and no packet may leak from
// the pool.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "net/checksum.hpp"
#include "net/stack_core.hpp"

namespace {

using namespace rz::net;

constexpr MacAddress our_mac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

void check(bool ok, const char* what) {
  if (!ok) {
    __builtin_printf("invariant broken: %s\n", what);
    std::abort();
  }
}

class FuzzNic : public Nic {
 public:
  FuzzNic() : pool_(64) {}
  MacAddress mac() const override { return our_mac; }
  bool transmit(PacketPtr frame) override {
    auto b = frame->bytes();
    check(b.size() >= 60 && b.size() <= 1514, "frame size");
    check(MacAddress{{b[6], b[7], b[8], b[9], b[10], b[11]}} == our_mac, "source MAC");
    if (b[12] == 0x08 && b[13] == 0x00) {
      auto ip = b.subspan(14);
      std::size_t hs = (ip[0] & 0xf) * 4u;
      std::size_t total = std::size_t(ip[2]) << 8 | ip[3];
      check(ip[0] >> 4 == 4 && hs >= 20, "IPv4 version and IHL");
      check(total >= hs && total <= ip.size() && total <= 1500, "IPv4 total length");
      check(internet_checksum(ip.first(hs)) == 0, "IPv4 header checksum");
      check((ip[6] & 0x40) == 0, "DF clear");
      bool fragment = (ip[6] & 0x3f) != 0 || ip[7] != 0;
      if (ip[9] == 1 && !fragment)
        check(internet_checksum(ip.subspan(hs, total - hs)) == 0, "ICMP checksum");
      if ((ip[9] == 17 || ip[9] == 6) && !fragment) {
        Checksum c;
        c.add(ip.subspan(12, 8));  // source and destination
        c.add16(ip[9]);
        c.add16(static_cast<std::uint16_t>(total - hs));
        c.add(ip.subspan(hs, total - hs));
        check(c.finish() == 0, ip[9] == 6 ? "TCP checksum" : "UDP checksum");
      }
    }
    return ++sent_ % 17 != 0;  // now and then the device queue is full
  }
  PacketPool& pool() override { return pool_; }
  NicStats stats() const override { return {}; }

 private:
  PacketPool pool_;
  unsigned sent_ = 0;
};

void fix_checksums(std::uint8_t* f, std::size_t n) {
  if (n < 34 || f[12] != 0x08 || f[13] != 0x00) return;
  std::uint8_t* ip = f + 14;
  std::size_t avail = n - 14;
  std::size_t hs = (ip[0] & 0xf) * 4u;
  if (hs < 20 || hs > avail) return;
  ip[10] = ip[11] = 0;
  std::uint16_t c = internet_checksum({ip, hs});
  ip[10] = static_cast<std::uint8_t>(c >> 8);
  ip[11] = static_cast<std::uint8_t>(c);
  std::size_t total = std::size_t(ip[2]) << 8 | ip[3];
  bool fragment = (ip[6] & 0x3f) != 0 || ip[7] != 0;
  if (ip[9] == 17 && !fragment && total <= avail && total >= hs + 8) {
    ip[hs + 6] = ip[hs + 7] = 0;  // "no checksum"
    return;
  }
  if (ip[9] == 6 && !fragment && total <= avail && total >= hs + 20) {
    std::uint8_t* tcp = ip + hs;
    tcp[16] = tcp[17] = 0;
    Checksum t;
    t.add({ip + 12, 8});
    t.add16(6);
    t.add16(static_cast<std::uint16_t>(total - hs));
    t.add({tcp, total - hs});
    c = t.finish();
    tcp[16] = static_cast<std::uint8_t>(c >> 8);
    tcp[17] = static_cast<std::uint8_t>(c);
    return;
  }
  if (ip[9] != 1 || fragment || total > avail || total < hs + 4) return;
  std::uint8_t* icmp = ip + hs;
  icmp[2] = icmp[3] = 0;
  c = internet_checksum({icmp, total - hs});
  icmp[2] = static_cast<std::uint8_t>(c >> 8);
  icmp[3] = static_cast<std::uint8_t>(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  bool dhcp = data[0] & 1;
  ++data;
  --size;
  FuzzNic nic;
  auto stack = std::make_unique<StackCore>(
      nic, Config::from_cmdline(dhcp ? "ip=dhcp arp_probes=1 arp_ttl=4 ipfrag_time=3"
                                     : "ip=10.0.0.2/24 gw=10.0.0.1 arp_ttl=4 ipfrag_time=3 "
                                       "tcp_rcvbuf=4096 tcp_sndbuf=4096 tcp_syn_backlog=2",
                                our_mac));
  std::uint64_t now = 1000;
  stack->start(now);
  if (UdpSocket* echo = stack->udp_bind(7)) {
    echo->on_receive(
        [echo](const UdpDatagram& d) { echo->send_to(d.src, d.src_port, d.data, d.now_ms); });
  }
  stack->tcp().set_clock([&now] { return now; });
  stack->tcp().listen(7, [](TcpConnection::Ptr c) {
    auto pump = [c] {
      std::uint8_t buf[512];
      while (c->readable() && c->write_space()) {
        std::size_t n = c->read({buf, std::min(sizeof buf, c->write_space())});
        c->write({buf, n});
      }
      if (c->eof()) c->close();
    };
    c->on_readable(pump);
    c->on_writable(pump);
  });
  while (size >= 2) {
    std::uint8_t kind = data[0] % 4;
    std::size_t len = kind == 2 ? data[1] * 8u : data[1];
    data += 2;
    size -= 2;
    if (len > size) len = size;
    switch (kind) {
      case 0:
      case 2: {
        PacketPtr p = nic.pool().alloc();
        if (!p || !p->resize(len)) break;
        if (len) std::memcpy(p->data(), data, len);
        if (kind == 2 && len >= 6) {
          std::memcpy(p->data(), our_mac.bytes.data(), 6);
          fix_checksums(p->data(), len);
        }
        stack->input(std::move(p), now);
        break;
      }
      case 1: {
        std::uint64_t end = now + (len ? data[0] : 1) * 100u;
        while (now < end) stack->tick(now += StackCore::tick_ms);
        break;
      }
      case 3: {
        if (len == 0) break;
        Ipv4Address dst{0x0a000000u | data[0]};
        stack->send_ipv4({}, dst, 253, std::span<const std::uint8_t>(data + 1, len - 1), now);
        break;
      }
    }
    data += len;
    size -= len;
  }
  // Run out every timer but the DHCP client's (it retransmits for ever),
  // jumping from one due time to the next (TCP's last retransmission may be
  // a quarter of an hour away); then nothing may be left out of the pool.
  for (int i = 0; i < 20'000 && (stack->needs_tick() || stack->tcp().next_due() != ~0ull); ++i)
    stack->tick(now = std::max(now + 1, stack->next_due(now)));
  check(!stack->needs_tick(), "idle after every timer ran out");
  check(stack->tcp().connections() == 0, "every TCP connection ended");
  stack.reset();
  check(nic.pool().available() == nic.pool().capacity(), "no packet leaks");
  return 0;
}
