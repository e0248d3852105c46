// The DHCP client: message format and the state machine (see dhcp.hpp).
#include "net/dhcp.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "net/bytes.hpp"

namespace rz::net::dhcp {

const char* to_string(MessageType t) {
  switch (t) {
    case MessageType::discover:
      return "DISCOVER";
    case MessageType::offer:
      return "OFFER";
    case MessageType::request:
      return "REQUEST";
    case MessageType::decline:
      return "DECLINE";
    case MessageType::ack:
      return "ACK";
    case MessageType::nak:
      return "NAK";
    case MessageType::release:
      return "RELEASE";
    case MessageType::inform:
      return "INFORM";
  }
  return "?";
}

namespace {

// Options whose length RFC 2132 fixes (or bounds); 0: any.
bool length_ok(std::uint8_t code, std::size_t n) {
  switch (code) {
    case opt_subnet_mask:
    case opt_requested_ip:
    case opt_lease_time:
    case opt_server_id:
    case opt_renewal_time:
    case opt_rebinding_time:
      return n == 4;
    case opt_router:
    case opt_dns:
      return n >= 4 && n % 4 == 0;
    case opt_message_type:
    case opt_overload:
      return n == 1;
    default:
      return true;
  }
}

}  // namespace

std::optional<Reply> Reply::parse(std::span<const std::uint8_t> b, Error& why) {
  if (b.size() < fixed_size + 4) {
    why = Error::truncated;
    return std::nullopt;
  }
  // op BOOTREPLY, htype Ethernet, hlen 6.
  if (b[0] != 2 || b[1] != 1 || b[2] != 6) {
    why = Error::not_reply;
    return std::nullopt;
  }
  if (load32(b.data() + fixed_size) != magic_cookie) {
    why = Error::bad_cookie;
    return std::nullopt;
  }
  Reply r;
  r.xid = load32(b.data() + 4);
  r.yiaddr.value = load32(b.data() + 16);
  std::memcpy(r.chaddr.bytes.data(), b.data() + 28, 6);
  bool have_type = false;
  bool ended = false;
  std::size_t i = fixed_size + 4;
  while (i < b.size()) {
    std::uint8_t code = b[i];
    if (code == opt_pad) {
      ++i;
      continue;
    }
    if (code == opt_end) {
      ended = true;
      break;
    }
    // RFC 2132 2: code, length, data; all of it inside the message.
    if (i + 2 > b.size() || i + 2 + b[i + 1] > b.size()) {
      why = Error::bad_option;
      return std::nullopt;
    }
    std::size_t n = b[i + 1];
    const std::uint8_t* v = b.data() + i + 2;
    if (!length_ok(code, n)) {
      why = Error::bad_option;
      return std::nullopt;
    }
    switch (code) {
      case opt_message_type:
        if (v[0] < 1 || v[0] > 8) {
          why = Error::bad_option;
          return std::nullopt;
        }
        r.type = static_cast<MessageType>(v[0]);
        have_type = true;
        break;
      case opt_server_id:
        r.server_id = Ipv4Address{load32(v)};
        break;
      case opt_subnet_mask:
        r.subnet_mask = Ipv4Address{load32(v)};
        break;
      case opt_router:
        r.router = Ipv4Address{load32(v)};  // the first is the preferred one
        break;
      case opt_dns:
        r.dns_count = std::min(max_dns_servers, n / 4);
        for (std::size_t k = 0; k < r.dns_count; ++k) r.dns[k] = Ipv4Address{load32(v + 4 * k)};
        break;
      case opt_lease_time:
        r.lease_s = load32(v);
        break;
      case opt_renewal_time:
        r.renewal_s = load32(v);
        break;
      case opt_rebinding_time:
        r.rebinding_s = load32(v);
        break;
      default:
        break;  // not asked for, or overload (sname/file are not read)
    }
    i += 2 + n;
  }
  if (!ended) {
    why = Error::no_end;
    return std::nullopt;
  }
  if (!have_type) {
    why = Error::no_type;
    return std::nullopt;
  }
  return r;
}

std::size_t Request::emit(std::span<std::uint8_t, 548> out) const {
  std::uint8_t* b = out.data();
  std::memset(b, 0, out.size());
  b[0] = 1;  // BOOTREQUEST
  b[1] = 1;  // Ethernet
  b[2] = 6;
  store32(b + 4, xid);
  store16(b + 8, secs);
  // flags 0: we take unicast replies before we have an address.
  store32(b + 12, ciaddr.value);
  std::memcpy(b + 28, chaddr.bytes.data(), 6);
  store32(b + fixed_size, magic_cookie);
  std::size_t i = fixed_size + 4;
  auto option = [&](std::uint8_t code, std::span<const std::uint8_t> v) {
    b[i++] = code;
    b[i++] = static_cast<std::uint8_t>(v.size());
    std::memcpy(b + i, v.data(), v.size());
    i += v.size();
  };
  auto address = [&](std::uint8_t code, Ipv4Address a) {
    std::uint8_t v[4];
    store32(v, a.value);
    option(code, v);
  };
  std::uint8_t t = static_cast<std::uint8_t>(type);
  option(opt_message_type, {&t, 1});
  // RFC 2132 9.14: the client identifier, type 1 (Ethernet) and the MAC.
  std::uint8_t id[7] = {1};
  std::memcpy(id + 1, chaddr.bytes.data(), 6);
  option(opt_client_id, id);
  if (requested_ip) address(opt_requested_ip, *requested_ip);
  if (server_id) address(opt_server_id, *server_id);
  if (type == MessageType::discover || type == MessageType::request) {
    static constexpr std::uint8_t wanted[] = {opt_subnet_mask,   opt_router,    opt_dns,
                                              opt_lease_time,    opt_server_id, opt_renewal_time,
                                              opt_rebinding_time};
    option(opt_parameter_list, wanted);
    std::uint8_t size[2];
    store16(size, 1500);  // RFC 2132 9.10: what we accept (one frame)
    option(opt_max_message_size, size);
  }
  b[i++] = opt_end;
  // Pad to the 300 bytes BOOTP relays expect (RFC 1542 2.1).
  return std::max<std::size_t>(i, 300);
}

}  // namespace rz::net::dhcp

namespace rz::net {

const char* Dhcp::to_string(State s) {
  switch (s) {
    case State::init:
      return "init";
    case State::selecting:
      return "selecting";
    case State::requesting:
      return "requesting";
    case State::probing:
      return "probing";
    case State::declined:
      return "declined";
    case State::bound:
      return "bound";
    case State::renewing:
      return "renewing";
    case State::rebinding:
      return "rebinding";
    case State::fallback:
      return "fallback";
  }
  return "?";
}

Dhcp::Dhcp(Udp& udp, MacAddress mac, const Config& config, Counters& counters, Hooks hooks)
    : udp_(udp), mac_(mac), config_(config), counters_(counters), hooks_(std::move(hooks)) {}

std::uint64_t Dhcp::jitter() {
  // RFC 2131 4.1: randomized by a uniform number in -1..+1 s.
  return hooks_.random ? hooks_.random(2 * jitter_ms + 1) : jitter_ms;
}

void Dhcp::start(std::uint64_t now) {
  now_ms_ = now;
  first_start_ms_ = now;
  if (!socket_) {
    socket_ = udp_.bind(dhcp::client_port);
    if (!socket_) {
      if (hooks_.log) hooks_.log("dhcp: UDP port 68 is taken; no DHCP");
      return;
    }
    socket_->on_receive([this](const UdpDatagram& d) {
      now_ms_ = d.now_ms;
      input(d, d.now_ms);
    });
  }
  if (config_.dhcp_delay_ms > 0) {
    // RFC 2131 4.4.1: wait a random time before the first DISCOVER.
    state_ = State::init;
    deadline_ = now + (hooks_.random ? hooks_.random(config_.dhcp_delay_ms + 1) : 0);
    return;
  }
  restart(now);
}

void Dhcp::enter(State s, std::uint64_t now) {
  (void)now;
  state_ = s;
}

void Dhcp::restart(std::uint64_t now) {
  // INIT: a new exchange with a new transaction id, then SELECTING.
  xid_ = hooks_.random ? static_cast<std::uint32_t>(hooks_.random(0)) : 0x12345678u;
  started_ms_ = now;
  attempts_ = 0;
  backoff_ms_ = first_retransmit_ms;
  offered_ = Ipv4Address::any();
  server_ = Ipv4Address::any();
  pending_ack_.reset();
  enter(State::selecting, now);
  send(dhcp::MessageType::discover, now);
  schedule_retransmit(now);
}

void Dhcp::schedule_retransmit(std::uint64_t now) {
  // 4 s, 8 s, ... 64 s, each -1..+1 s.
  deadline_ = now + backoff_ms_ - jitter_ms + jitter();
  backoff_ms_ = std::min(backoff_ms_ * 2, max_retransmit_ms);
}

void Dhcp::schedule_lease_timer(std::uint64_t now) {
  const DhcpLease& l = *lease_;
  std::uint64_t t2 = l.acquired_ms + l.t2_ms;
  std::uint64_t end = l.acquired_ms + std::uint64_t(l.lease_s) * 1000;
  if (l.lease_s == 0xffffffffu) {
    deadline_ = ~0ull;  // an infinite lease is never renewed
    return;
  }
  switch (state_) {
    case State::bound:
      deadline_ = l.acquired_ms + l.t1_ms;
      break;
    case State::renewing:
      // RFC 2131 4.4.5: half the time left until T2, at least 60 s.
      deadline_ = std::min(now + std::max(min_renew_retransmit_ms, (t2 - now) / 2), t2);
      break;
    case State::rebinding:
      deadline_ = std::min(now + std::max(min_renew_retransmit_ms, (end - now) / 2), end);
      break;
    default:
      break;
  }
}

void Dhcp::send(dhcp::MessageType type, std::uint64_t now) {
  dhcp::Request m;
  m.type = type;
  m.xid = xid_;
  m.secs = static_cast<std::uint16_t>(std::min<std::uint64_t>((now - started_ms_) / 1000, 0xffff));
  m.chaddr = mac_;
  Ipv4Address src = Ipv4Address::any();
  Ipv4Address dst = Ipv4Address::limited_broadcast();
  switch (type) {
    case dhcp::MessageType::discover:
      ++stats_.discovers;
      break;
    case dhcp::MessageType::request:
      ++stats_.requests;
      if (state_ == State::requesting) {
        // SELECTING's REQUEST names the offer and its server (4.3.2).
        m.requested_ip = offered_;
        m.server_id = server_;
      } else {
        // RENEWING unicasts to the server, REBINDING broadcasts; both
        // carry our address in ciaddr and no server id (4.3.2).
        m.ciaddr = lease_->address;
        src = lease_->address;
        if (state_ == State::renewing) dst = lease_->server;
      }
      break;
    case dhcp::MessageType::decline:
      ++stats_.declines;
      m.secs = 0;  // RFC 2131 table 5
      m.requested_ip = offered_;
      m.server_id = server_;
      break;
    default:
      break;
  }
  std::array<std::uint8_t, 548> buffer;
  std::size_t n = m.emit(buffer);
  SendResult r = socket_->send_to_from(src, dst, dhcp::server_port, {buffer.data(), n}, now);
  if (ok(r))
    ++counters_.dhcp_tx_messages;
  else
    ++counters_.dhcp_tx_failed;
}

void Dhcp::input(const UdpDatagram& d, std::uint64_t now) {
  ++counters_.dhcp_rx_messages;
  if (d.src_port != dhcp::server_port) {
    ++counters_.dhcp_rx_drop_not_server;
    return;
  }
  dhcp::Reply::Error why{};
  auto r = dhcp::Reply::parse(d.data, why);
  if (!r) {
    switch (why) {
      case dhcp::Reply::Error::truncated:
      case dhcp::Reply::Error::not_reply:
      case dhcp::Reply::Error::bad_cookie:
        ++counters_.dhcp_rx_drop_malformed;
        break;
      case dhcp::Reply::Error::bad_option:
      case dhcp::Reply::Error::no_end:
      case dhcp::Reply::Error::no_type:
        ++counters_.dhcp_rx_drop_bad_options;
        break;
    }
    return;
  }
  // RFC 2131 4.4.1: only replies to our transaction, for our MAC.
  if (r->xid != xid_ || r->chaddr != mac_) {
    ++counters_.dhcp_rx_drop_not_ours;
    return;
  }
  switch (r->type) {
    case dhcp::MessageType::offer:
      ++stats_.offers;
      if (state_ != State::selecting) break;
      return on_offer(*r, now);
    case dhcp::MessageType::ack:
      ++stats_.acks;
      if (state_ != State::requesting && state_ != State::renewing && state_ != State::rebinding)
        break;
      return on_ack(*r, now);
    case dhcp::MessageType::nak:
      ++stats_.naks;
      if (state_ != State::requesting && state_ != State::renewing && state_ != State::rebinding)
        break;
      // A NAK for a REQUEST sent to one server must be from it.
      if (state_ == State::requesting && r->server_id && *r->server_id != server_) break;
      return on_nak(now);
    default:
      break;
  }
  ++counters_.dhcp_rx_drop_unexpected;
}

void Dhcp::on_offer(const dhcp::Reply& r, std::uint64_t now) {
  // An offer needs an address a host can have and a server id (4.3.1).
  bool usable = r.server_id && r.yiaddr != Ipv4Address::any() &&
                r.yiaddr != Ipv4Address::limited_broadcast() && (r.yiaddr.value >> 28) < 0xe &&
                (r.yiaddr.value >> 24) != 127;
  if (!usable) {
    ++counters_.dhcp_rx_drop_unusable;
    return;
  }
  // The first usable offer wins; the REQUEST tells the others (it names
  // this server), and keeps the transaction id.
  offered_ = r.yiaddr;
  server_ = *r.server_id;
  attempts_ = 1;
  backoff_ms_ = first_retransmit_ms;
  enter(State::requesting, now);
  send(dhcp::MessageType::request, now);
  schedule_retransmit(now);
}

void Dhcp::on_ack(const dhcp::Reply& r, std::uint64_t now) {
  // RFC 2131 4.3.1: an ACK carries the lease time; the address must be one
  // a host can have (and, when renewing, ours).
  bool usable = r.lease_s && r.yiaddr != Ipv4Address::any() &&
                r.yiaddr != Ipv4Address::limited_broadcast() && (r.yiaddr.value >> 28) < 0xe &&
                (r.yiaddr.value >> 24) != 127;
  if (state_ == State::requesting && r.yiaddr != offered_) usable = false;
  if (!usable) {
    ++counters_.dhcp_rx_drop_unusable;
    return;
  }
  if (r.server_id) server_ = *r.server_id;
  if (lease_ && lease_->address == r.yiaddr) {
    // A renewal of the address in use: no probe.
    pending_ack_ = r;
    return bind(now);
  }
  // RFC 2131 4.4.1 / RFC 5227 2.1: make sure nobody uses it first.
  offered_ = r.yiaddr;
  pending_ack_ = r;
  enter(State::probing, now);
  deadline_ = ~0ull;
  if (!hooks_.probe) return probed(false, now);
  std::uint32_t xid = xid_;
  hooks_.probe(r.yiaddr, [this, xid](bool conflict) {
    if (state_ == State::probing && xid_ == xid) probed(conflict, now_ms_);
  });
}

void Dhcp::probed(bool conflict, std::uint64_t now) {
  if (!conflict) return bind(now);
  // RFC 2131 3.1.5: DECLINE, then wait at least ten seconds.
  ++counters_.dhcp_declined;
  if (hooks_.log) {
    std::string line = "dhcp: " + offered_.to_string() + " is in use; declining it";
    hooks_.log(line);
  }
  send(dhcp::MessageType::decline, now);
  pending_ack_.reset();
  enter(State::declined, now);
  deadline_ = now + decline_wait_ms;
}

void Dhcp::on_nak(std::uint64_t now) {
  ++counters_.dhcp_naks;
  if (hooks_.log) hooks_.log("dhcp: NAK; starting over");
  drop_lease();
  restart(now);
}

void Dhcp::drop_lease() {
  if (!lease_) return;
  lease_.reset();
  if (hooks_.configure) hooks_.configure(Ipv4Address::any(), 0, Ipv4Address::any());
}

namespace {

// The prefix of a contiguous mask, or nothing.
std::optional<std::uint8_t> prefix_of(Ipv4Address mask) {
  std::uint32_t m = mask.value;
  std::uint8_t n = 0;
  while (n < 32 && (m & (0x80000000u >> n))) ++n;
  if (n < 32 && (m << n) != 0) return std::nullopt;
  return n;
}

std::uint8_t classful_prefix(Ipv4Address a) {
  std::uint32_t top = a.value >> 24;
  return top < 128 ? 8 : top < 192 ? 16 : 24;
}

}  // namespace

void Dhcp::bind(std::uint64_t now) {
  const dhcp::Reply& r = *pending_ack_;
  DhcpLease l;
  l.address = r.yiaddr;
  l.prefix = classful_prefix(r.yiaddr);
  if (r.subnet_mask) {
    if (auto p = prefix_of(*r.subnet_mask); p && *p > 0 && *p < 32) l.prefix = *p;
  }
  l.gateway = r.router.value_or(Ipv4Address::any());
  l.server = server_;
  l.dns = r.dns;
  l.dns_count = r.dns_count;
  l.lease_s = *r.lease_s;
  l.acquired_ms = now;
  // RFC 2131 4.4.5: T1 = 0.5 and T2 = 0.875 of the lease unless given,
  // "with some random fuzz" (here +-2.5 % of the lease).
  std::uint64_t lease_ms = std::uint64_t(l.lease_s) * 1000;
  auto fuzz = [&](std::uint64_t t) {
    std::uint64_t span = lease_ms / 40;
    if (!hooks_.random || span == 0) return t;
    return t - span + hooks_.random(2 * span + 1);
  };
  l.t1_ms = r.renewal_s ? std::uint64_t(*r.renewal_s) * 1000 : fuzz(lease_ms / 2);
  l.t2_ms = r.rebinding_s ? std::uint64_t(*r.rebinding_s) * 1000 : fuzz(lease_ms * 7 / 8);
  // Keep T1 <= T2 <= the lease whatever the server said.
  l.t2_ms = std::min(l.t2_ms, lease_ms);
  l.t1_ms = std::min(l.t1_ms, l.t2_ms);
  bool renewed = lease_ && lease_->address == l.address;
  lease_ = l;
  pending_ack_.reset();
  ever_bound_ = true;
  ++stats_.leases;
  enter(State::bound, now);
  schedule_lease_timer(now);
  if (hooks_.configure) hooks_.configure(l.address, l.prefix, l.gateway);
  if (hooks_.log) {
    std::string line = std::string("dhcp: ") + (renewed ? "renewed " : "bound ") +
                       l.address.to_string() + "/" + std::to_string(l.prefix) + " gw " +
                       l.gateway.to_string() + " from " + l.server.to_string() + " for " +
                       std::to_string(l.lease_s) + " s";
    hooks_.log(line);
  }
}

void Dhcp::tick(std::uint64_t now) {
  now_ms_ = now;
  if (!socket_) return;
  bool unconfigured = state_ == State::init || state_ == State::selecting ||
                      state_ == State::requesting || state_ == State::declined;
  if (unconfigured && !ever_bound_ && config_.dhcp_fallback != Ipv4Address::any() &&
      now - first_start_ms_ >= config_.dhcp_timeout_ms) {
    // No lease in time: the configured static address, and no more DHCP.
    ++counters_.dhcp_fallbacks;
    enter(State::fallback, now);
    deadline_ = ~0ull;
    socket_->close();
    socket_ = nullptr;
    if (hooks_.log) {
      std::string line = "dhcp: no lease after " + std::to_string(config_.dhcp_timeout_ms / 1000) +
                         " s; using " + config_.dhcp_fallback.to_string() + "/" +
                         std::to_string(config_.dhcp_fallback_prefix);
      hooks_.log(line);
    }
    if (hooks_.configure)
      hooks_.configure(config_.dhcp_fallback, config_.dhcp_fallback_prefix, config_.gateway);
    return;
  }
  if (now < deadline_) return;
  switch (state_) {
    case State::init:
    case State::declined:
      return restart(now);
    case State::selecting:
      ++attempts_;
      send(dhcp::MessageType::discover, now);
      return schedule_retransmit(now);
    case State::requesting:
      if (attempts_ >= max_requests) return restart(now);
      ++attempts_;
      send(dhcp::MessageType::request, now);
      return schedule_retransmit(now);
    case State::bound:
      // T1: ask the server that gave the lease to extend it.
      xid_ = hooks_.random ? static_cast<std::uint32_t>(hooks_.random(0)) : xid_ + 1;
      started_ms_ = now;
      enter(State::renewing, now);
      send(dhcp::MessageType::request, now);
      return schedule_lease_timer(now);
    case State::renewing:
      if (now >= lease_->acquired_ms + lease_->t2_ms) {
        // T2: ask any server.
        enter(State::rebinding, now);
      }
      send(dhcp::MessageType::request, now);
      return schedule_lease_timer(now);
    case State::rebinding:
      if (now >= lease_->acquired_ms + std::uint64_t(lease_->lease_s) * 1000) {
        ++counters_.dhcp_lease_expired;
        if (hooks_.log) hooks_.log("dhcp: lease expired; starting over");
        drop_lease();
        return restart(now);
      }
      send(dhcp::MessageType::request, now);
      return schedule_lease_timer(now);
    case State::probing:
    case State::fallback:
      deadline_ = ~0ull;
      return;
  }
}

}  // namespace rz::net
