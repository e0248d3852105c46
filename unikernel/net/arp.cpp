// ARP: packet format, cache, resolution queue, announcements (see arp.hpp).
#include "net/arp.hpp"

#include <algorithm>
#include <cstring>

#include "net/bytes.hpp"

namespace rz::net::arp {

std::optional<Packet> Packet::parse(std::span<const std::uint8_t> b, Error& why) {
  if (b.size() < 8) {
    why = Error::truncated;
    return std::nullopt;
  }
  // RFC 826 "Packet Reception": ar$hrd and ar$pro must be ours; the
  // lengths must be those of Ethernet and IPv4.
  if (load16(b.data()) != 1) {
    why = Error::bad_htype;
    return std::nullopt;
  }
  if (load16(b.data() + 2) != ethernet::type_ipv4) {
    why = Error::bad_ptype;
    return std::nullopt;
  }
  if (b[4] != 6) {
    why = Error::bad_hlen;
    return std::nullopt;
  }
  if (b[5] != 4) {
    why = Error::bad_plen;
    return std::nullopt;
  }
  if (b.size() < packet_size) {
    why = Error::truncated;
    return std::nullopt;
  }
  Packet p;
  p.op = load16(b.data() + 6);
  if (p.op != op_request && p.op != op_reply) {
    why = Error::bad_opcode;
    return std::nullopt;
  }
  std::memcpy(p.sha.bytes.data(), b.data() + 8, 6);
  p.spa.value = load32(b.data() + 14);
  std::memcpy(p.tha.bytes.data(), b.data() + 18, 6);
  p.tpa.value = load32(b.data() + 24);
  return p;
}

void Packet::emit(std::span<std::uint8_t> out) const {
  std::uint8_t* b = out.data();
  store16(b, 1);
  store16(b + 2, ethernet::type_ipv4);
  b[4] = 6;
  b[5] = 4;
  store16(b + 6, op);
  std::memcpy(b + 8, sha.bytes.data(), 6);
  store32(b + 14, spa.value);
  std::memcpy(b + 18, tha.bytes.data(), 6);
  store32(b + 24, tpa.value);
}

}  // namespace rz::net::arp

namespace rz::net {

Arp::Arp(Ethernet& ethernet, PacketPool& pool, const Config& config, Counters& counters)
    : ethernet_(ethernet), pool_(pool), config_(config), counters_(counters) {}

Arp::Entry* Arp::find(Ipv4Address ip) {
  for (auto& e : entries_)
    if (e.state != State::free && e.ip == ip) return &e;
  return nullptr;
}

const Arp::Entry* Arp::find(Ipv4Address ip) const {
  for (const auto& e : entries_)
    if (e.state != State::free && e.ip == ip) return &e;
  return nullptr;
}

Arp::Entry& Arp::allocate() {
  Entry* victim = nullptr;
  for (auto& e : entries_) {
    if (e.state == State::free) return e;
    if (!victim || e.used_ms < victim->used_ms) victim = &e;
  }
  ++counters_.arp_cache_evicted;
  release(*victim);
  return *victim;
}

void Arp::drop(PacketPtr datagram, SendResult why) {
  ++counters_.arp_queue_dropped;
  // The hook runs later (flush_drops), once the cache is consistent again:
  // it may well send.
  if (drop_hook_ && datagram) dropped_.push_back({std::move(datagram), why});
}

void Arp::flush_drops() {
  if (flushing_) return;  // the outer call delivers what a hook adds
  flushing_ = true;
  for (std::size_t i = 0; i < dropped_.size(); ++i) {
    Dropped d = std::move(dropped_[i]);
    drop_hook_(*d.datagram, d.why);
  }
  dropped_.clear();
  flushing_ = false;
}

void Arp::release(Entry& e) {
  // An unanswered entry's queue had no route; an evicted one's no room.
  SendResult why = e.state == State::incomplete ? SendResult::no_route : SendResult::no_buffer;
  for (std::size_t i = 0; i < e.queued; ++i) drop(std::move(e.queue[i]), why);
  queued_total_ -= e.queued;
  e = Entry{};
}

bool Arp::expired(const Entry& e, std::uint64_t now) const {
  return e.state == State::resolved && !e.polling && now - e.confirmed_ms >= config_.arp_ttl_ms;
}

void Arp::resolved(Entry& e, MacAddress mac, std::uint64_t now) {
  e.state = State::resolved;
  e.mac = mac;
  e.confirmed_ms = now;
  e.attempts = 0;
  e.polling = false;
  // RFC 1122 2.3.2.2: send what waited for this address, in order.
  std::size_t n = e.queued;
  e.queued = 0;
  queued_total_ -= n;
  for (std::size_t i = 0; i < n; ++i) {
    // Keep the headers, so that a device-full drop can still be reported.
    std::array<std::uint8_t, ipv4::max_header_size + 8> head{};
    std::size_t kept = std::min(head.size(), e.queue[i]->size());
    std::memcpy(head.data(), e.queue[i]->data(), kept);
    if (!ethernet_.output(std::move(e.queue[i]), mac, ethernet::type_ipv4) && drop_hook_) {
      if (PacketPtr copy = pool_.alloc()) {
        copy->resize(kept);
        std::memcpy(copy->data(), head.data(), kept);
        dropped_.push_back({std::move(copy), SendResult::device_full});
      }
    }
  }
}

void Arp::input(PacketPtr packet, const FrameInfo& info, std::uint64_t now) {
  receive(std::move(packet), info, now);
  flush_drops();
}

void Arp::receive(PacketPtr packet, const FrameInfo& info, std::uint64_t now) {
  ++counters_.arp_rx_packets;
  arp::Packet::Error why{};
  auto p = arp::Packet::parse(packet->bytes(), why);
  if (!p) {
    switch (why) {
      case arp::Packet::Error::truncated:
        ++counters_.arp_rx_drop_truncated;
        break;
      case arp::Packet::Error::bad_htype:
        ++counters_.arp_rx_drop_bad_htype;
        break;
      case arp::Packet::Error::bad_ptype:
        ++counters_.arp_rx_drop_bad_ptype;
        break;
      case arp::Packet::Error::bad_hlen:
        ++counters_.arp_rx_drop_bad_hlen;
        break;
      case arp::Packet::Error::bad_plen:
        ++counters_.arp_rx_drop_bad_plen;
        break;
      case arp::Packet::Error::bad_opcode:
        ++counters_.arp_rx_drop_bad_opcode;
        break;
    }
    return;
  }
  (void)info;
  if (p->op == arp::op_request)
    ++counters_.arp_rx_requests;
  else
    ++counters_.arp_rx_replies;

  if (probe_.active) probe_input(*p);

  const Ipv4Address ours = config_.address;
  const bool configured = ours != Ipv4Address::any();
  // A sender hardware address that is a group address, or our own, is not
  // a host's: never put it in the cache.
  if (p->sha.is_multicast() || p->sha.is_zero() || p->sha == ethernet_.mac()) {
    ++counters_.arp_rx_drop_bad_sender;
    return;
  }
  // Someone else claims our address (RFC 5227 2.4 conflict): ignore it.
  if (configured && p->spa == ours) {
    ++counters_.arp_rx_drop_conflict;
    return;
  }
  const bool for_us = configured && p->tpa == ours;
  // An RFC 5227 probe (sender 0.0.0.0): answer it if it asks for our
  // address, learn nothing.
  if (p->spa == Ipv4Address::any()) {
    if (for_us && p->op == arp::op_request)
      send(arp::op_reply, p->sha, p->sha, ours, Ipv4Address::any(), std::move(packet));
    return;
  }
  const std::uint32_t spa = p->spa.value;
  if (spa == 0xffffffff || (spa >> 28) == 0xe) {
    ++counters_.arp_rx_drop_bad_sender;
    return;
  }

  // RFC 826 "Packet Reception": merge the sender into an existing entry...
  bool merged = false;
  if (Entry* e = find(p->spa)) {
    merged = true;
    if (e->state == State::resolved && e->mac != p->sha) ++counters_.arp_cache_updated;
    resolved(*e, p->sha, now);
  }
  if (!for_us) return;  // requests for other hosts: silence
  // ...and add it when the packet is for us.
  if (!merged) {
    Entry& e = allocate();
    e.ip = p->spa;
    e.used_ms = now;
    ++counters_.arp_cache_added;
    resolved(e, p->sha, now);
  }
  if (p->op == arp::op_request)
    send(arp::op_reply, p->sha, p->sha, ours, p->spa, std::move(packet));
}

void Arp::send(std::uint16_t op, MacAddress eth_dst, MacAddress tha, Ipv4Address spa,
               Ipv4Address tpa, PacketPtr reuse) {
  // A reply reuses the request's buffer; the window is the ARP payload.
  PacketPtr packet = reuse ? std::move(reuse) : pool_.alloc();
  if (!packet) return;  // counted by the pool
  if (!packet->resize(arp::packet_size)) return;
  arp::Packet{op, ethernet_.mac(), spa, tha, tpa}.emit(packet->bytes());
  if (op == arp::op_reply)
    ++counters_.arp_tx_replies;
  else
    ++counters_.arp_tx_requests;
  ethernet_.output(std::move(packet), eth_dst, ethernet::type_arp);
}

void Arp::send_request(Ipv4Address target, std::uint64_t) {
  send(arp::op_request, MacAddress::broadcast(), MacAddress{}, config_.address, target, nullptr);
}

void Arp::send_poll(Entry& e, std::uint64_t now) {
  ++counters_.arp_tx_polls;
  e.asked_ms = now;
  send(arp::op_request, e.mac, MacAddress{}, config_.address, e.ip, nullptr);
}

void Arp::send_announcement() {
  // RFC 5227 2.3: a request with sender and target protocol address ours.
  if (config_.address == Ipv4Address::any()) return;
  ++counters_.arp_tx_announcements;
  send(arp::op_request, MacAddress::broadcast(), MacAddress{}, config_.address, config_.address,
       nullptr);
}

void Arp::announce(std::uint64_t now) {
  if (config_.address == Ipv4Address::any()) return;
  send_announcement();
  announcements_left_ = announce_count - 1;
  next_announcement_ms_ = now + announce_interval_ms;
}

SendResult Arp::send_ipv4(Ipv4Address next_hop, PacketPtr datagram, std::uint64_t now) {
  SendResult r = enqueue_or_send(next_hop, std::move(datagram), now);
  flush_drops();
  return r;
}

SendResult Arp::enqueue_or_send(Ipv4Address next_hop, PacketPtr datagram, std::uint64_t now) {
  Entry* e = find(next_hop);
  if (e && expired(*e, now)) {
    if (e->used_ms > e->confirmed_ms) {
      // RFC 1122 2.3.2.1: an entry in use is validated with unicast polls
      // (its option 2), and used meanwhile: traffic flowing to a host does
      // not stall, nor queue, each time its entry reaches its lifetime.
      e->polling = true;
      e->attempts = 1;
      send_poll(*e, now);
    } else {
      // Not used since it was confirmed: it times out; ask again before
      // using it.
      ++counters_.arp_cache_expired;
      release(*e);
      e = nullptr;
    }
  }
  if (e && e->state == State::resolved) {
    e->used_ms = now;
    return ethernet_.output(std::move(datagram), e->mac, ethernet::type_ipv4)
               ? SendResult::sent
               : SendResult::device_full;
  }
  if (!e) {
    e = &allocate();
    e->state = State::incomplete;
    e->ip = next_hop;
    e->attempts = 1;
    e->asked_ms = now;
    send_request(next_hop, now);
  }
  e->used_ms = now;
  // RFC 1122 2.3.2.2: keep the newest datagrams while we ask.
  if (queued_total_ >= queue_total && e->queued == 0) {
    ++counters_.arp_queue_dropped;
    return SendResult::no_buffer;
  }
  if (e->queued == queue_per_entry || queued_total_ >= queue_total) {
    PacketPtr oldest = std::move(e->queue[0]);
    for (std::size_t i = 1; i < e->queued; ++i) e->queue[i - 1] = std::move(e->queue[i]);
    --e->queued;
    --queued_total_;
    drop(std::move(oldest), SendResult::no_buffer);
  }
  e->queue[e->queued++] = std::move(datagram);
  ++queued_total_;
  return SendResult::queued;
}

void Arp::tick(std::uint64_t now) {
  run_timers(now);
  flush_drops();
  probe_tick(now);
}

void Arp::run_timers(std::uint64_t now) {
  if (announcements_left_ > 0 && now >= next_announcement_ms_) {
    send_announcement();
    --announcements_left_;
    next_announcement_ms_ = now + announce_interval_ms;
  }
  for (auto& e : entries_) {
    if (e.state == State::incomplete && now - e.asked_ms >= retry_ms) {
      if (e.attempts >= max_attempts) {
        // No answer to three requests: give up, drop what waited.
        ++counters_.arp_resolve_failed;
        release(e);
        continue;
      }
      ++e.attempts;
      e.asked_ms = now;
      send_request(e.ip, now);
    } else if (e.polling && now - e.asked_ms >= retry_ms) {
      if (e.attempts >= max_attempts) {
        // No answer to the polls: the host is gone (or moved).
        ++counters_.arp_cache_expired;
        release(e);
        continue;
      }
      ++e.attempts;
      send_poll(e, now);
    } else if (expired(e, now)) {
      if (e.used_ms > e.confirmed_ms) {
        e.polling = true;  // in use: validate it (see enqueue_or_send)
        e.attempts = 1;
        send_poll(e, now);
      } else {
        ++counters_.arp_cache_expired;
        release(e);
      }
    }
  }
}

void Arp::for_each_entry(const std::function<void(const ArpEntryView&)>& f,
                         std::uint64_t now) const {
  for (const auto& e : entries_) {
    if (e.state == State::free || expired(e, now)) continue;
    bool done = e.state == State::resolved;
    f(ArpEntryView{e.ip, done ? e.mac : MacAddress{}, done,
                   done ? now - e.confirmed_ms : now - e.asked_ms, e.queued});
  }
}

void Arp::probe(Ipv4Address ip, unsigned probes, std::uint64_t now, ProbeDone done) {
  probe_ = Probe{};
  if (probes == 0) {
    if (done) done(false);
    return;
  }
  probe_.active = true;
  probe_.ip = ip;
  probe_.left = probes;
  probe_.next_ms = now + random(probe_wait_ms);
  probe_.done = std::move(done);
}

void Arp::probe_input(const arp::Packet& p) {
  // RFC 5227 2.1.1: a conflict is any ARP packet whose sender address is
  // the one we probe, or a probe for it from another host.
  if (p.sha == ethernet_.mac()) return;
  bool conflict = p.spa == probe_.ip ||
                  (p.op == arp::op_request && p.spa == Ipv4Address::any() && p.tpa == probe_.ip);
  if (!conflict) return;
  ++counters_.arp_probe_conflicts;
  ProbeDone done = std::move(probe_.done);
  probe_ = Probe{};
  if (done) done(true);
}

void Arp::probe_tick(std::uint64_t now) {
  if (!probe_.active || now < probe_.next_ms) return;
  if (probe_.left == 0) {
    ProbeDone done = std::move(probe_.done);
    probe_ = Probe{};
    if (done) done(false);
    return;
  }
  ++counters_.arp_tx_probes;
  send(arp::op_request, MacAddress::broadcast(), MacAddress{}, Ipv4Address::any(), probe_.ip,
       nullptr);
  --probe_.left;
  probe_.next_ms = probe_.left > 0 ? now + probe_min_ms + random(probe_max_ms - probe_min_ms + 1)
                                   : now + announce_wait_ms;
}

bool Arp::busy() const {
  if (announcements_left_ > 0 || probe_.active) return true;
  for (const auto& e : entries_)
    if (e.state == State::incomplete || e.polling) return true;
  return false;
}

std::optional<MacAddress> Arp::lookup(Ipv4Address ip, std::uint64_t now) const {
  const Entry* e = find(ip);
  if (!e || e->state != State::resolved || expired(*e, now)) return std::nullopt;
  return e->mac;
}

}  // namespace rz::net
