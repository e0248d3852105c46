// The stack core and its configuration (see stack_core.hpp, stack.hpp).
#include <algorithm>
#include <string>

#include "net/stack_core.hpp"

namespace rz::net {
namespace {

LogSink log_sink = nullptr;

// A decimal number without sign or junk, at most `max`.
std::optional<std::uint32_t> parse_number(std::string_view s, std::uint32_t max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n > max) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}

void complain(std::string_view key, std::string_view value, std::string_view want) {
  std::string line = "net: ignoring ";
  line += key;
  line += "=";
  line += value;
  line += " (want ";
  line += want;
  line += "), keeping the default";
  log_line(line);
}

// tcp_<name>=value: where it goes, its range (the value as written), and
// the factor to the field's unit.
struct TcpTunable {
  std::string_view name;
  std::uint32_t TcpConfig::*field;
  std::uint32_t min, max, scale;
  std::string_view want;
};
constexpr TcpTunable tcp_tunables[] = {
    {"tcp_rcvbuf", &TcpConfig::rcvbuf, 4096, 16 << 20, 1, "bytes, 4096 to 16777216"},
    {"tcp_sndbuf", &TcpConfig::sndbuf, 4096, 16 << 20, 1, "bytes, 4096 to 16777216"},
    {"tcp_msl", &TcpConfig::msl_ms, 0, 3600, 1000, "seconds, 0 to 3600"},
    {"tcp_rto_min", &TcpConfig::rto_min_ms, 10, 60'000, 1, "milliseconds, 10 to 60000"},
    {"tcp_rto_max", &TcpConfig::rto_max_ms, 1000, 600'000, 1, "milliseconds, 1000 to 600000"},
    {"tcp_rto_initial", &TcpConfig::rto_initial_ms, 100, 60'000, 1, "milliseconds, 100 to 60000"},
    {"tcp_delack", &TcpConfig::delack_ms, 1, 500, 1, "milliseconds, 1 to 500"},
    {"tcp_syn_retries", &TcpConfig::syn_retries, 1, 20, 1, "1 to 20"},
    {"tcp_retries", &TcpConfig::retries, 1, 30, 1, "1 to 30"},
    {"tcp_syn_backlog", &TcpConfig::syn_backlog, 1, 65'535, 1, "1 to 65535"},
    {"tcp_max_connections", &TcpConfig::max_connections, 1, 65'535, 1, "1 to 65535"},
    {"tcp_challenge_ack_limit", &TcpConfig::challenge_ack_limit, 1, 1'000'000, 1,
     "per second, 1 to 1000000"},
};
constexpr std::pair<std::string_view, bool TcpConfig::*> tcp_switches[] = {
    {"tcp_timestamps", &TcpConfig::timestamps},
    {"tcp_window_scaling", &TcpConfig::window_scaling},
    {"tcp_syncookies", &TcpConfig::syncookies},
};

// A tcp_* word; false when the key is not one.
bool tcp_tunable(TcpConfig& c, std::string_view key, std::string_view value) {
  for (const auto& t : tcp_tunables) {
    if (t.name != key) continue;
    auto n = parse_number(value, t.max);
    if (!n || *n < t.min)
      complain(key, value, t.want);
    else
      c.*t.field = *n * t.scale;
    return true;
  }
  for (const auto& [name, field] : tcp_switches) {
    if (name != key) continue;
    if (value == "0" || value == "1")
      c.*field = value == "1";
    else
      complain(key, value, "0 or 1");
    return true;
  }
  return false;
}

}  // namespace

void set_log_sink(LogSink sink) {
  log_sink = sink;
}

void log_line(std::string_view line) {
  if (log_sink) log_sink(line);
}

Config Config::from_cmdline(std::string_view cmdline, MacAddress nic_mac) {
  Config c;
  c.mac = nic_mac;
  // Words are "key=value" separated by spaces; later words win.
  while (!cmdline.empty()) {
    auto start = cmdline.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    cmdline.remove_prefix(start);
    auto end = cmdline.find(' ');
    std::string_view word = cmdline.substr(0, end);
    cmdline.remove_prefix(end == std::string_view::npos ? cmdline.size() : end);
    auto eq = word.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = word.substr(0, eq);
    std::string_view value = word.substr(eq + 1);
    if (key == "ip" && value == "dhcp") {
      c.dhcp = true;
      c.address = Ipv4Address::any();
      c.prefix = 0;
    } else if (key == "ip" || key == "dhcp_fallback") {
      auto slash = value.find('/');
      auto ip = Ipv4Address::parse(value.substr(0, slash));
      std::optional<std::uint32_t> prefix = 32;
      if (slash != std::string_view::npos) prefix = parse_number(value.substr(slash + 1), 32);
      bool unicast = ip && *ip != Ipv4Address::any() && *ip != Ipv4Address::limited_broadcast() &&
                     (ip->value >> 28) < 0xe;
      if (!unicast || !prefix) {
        complain(key, value,
                 key == "ip" ? "a unicast a.b.c.d/prefix or dhcp" : "a unicast a.b.c.d/prefix");
        continue;
      }
      if (key == "ip") {
        c.dhcp = false;
        c.address = *ip;
        c.prefix = static_cast<std::uint8_t>(*prefix);
      } else {
        c.dhcp_fallback = *ip;
        c.dhcp_fallback_prefix = static_cast<std::uint8_t>(*prefix);
      }
    } else if (key == "gw" || key == "nameserver") {
      auto ip = Ipv4Address::parse(value);
      if (!ip) {
        complain(key, value, "a.b.c.d");
        continue;
      }
      (key == "gw" ? c.gateway : c.nameserver) = *ip;
    } else if (key == "mac") {
      auto mac = MacAddress::parse(value);
      if (!mac || mac->is_multicast() || mac->is_zero()) {
        complain(key, value, "a unicast xx:xx:xx:xx:xx:xx");
        continue;
      }
      c.mac = *mac;
    } else if (key == "arp_ttl") {
      auto n = parse_number(value, 86'400);
      if (!n || *n == 0) {
        complain(key, value, "seconds, 1 to 86400");
        continue;
      }
      c.arp_ttl_ms = *n * 1000;
    } else if (key == "ipfrag_time") {
      auto n = parse_number(value, 3600);
      if (!n || *n == 0) {
        complain(key, value, "seconds, 1 to 3600");
        continue;
      }
      c.ipfrag_time_ms = *n * 1000;
    } else if (key == "icmp_ratelimit") {
      auto n = parse_number(value, 600'000);
      if (!n) {
        complain(key, value, "milliseconds, 0 to 600000");
        continue;
      }
      c.icmp_ratelimit_ms = *n;
    } else if (key == "dhcp_timeout") {
      auto n = parse_number(value, 86'400);
      if (!n || *n == 0) {
        complain(key, value, "seconds, 1 to 86400");
        continue;
      }
      c.dhcp_timeout_ms = *n * 1000;
    } else if (key == "dhcp_delay") {
      auto n = parse_number(value, 10);
      if (!n) {
        complain(key, value, "seconds, 0 to 10");
        continue;
      }
      c.dhcp_delay_ms = *n * 1000;
    } else if (tcp_tunable(c.tcp, key, value)) {
      continue;
    } else if (key == "arp_probes") {
      auto n = parse_number(value, 10);
      if (!n) {
        complain(key, value, "0 to 10");
        continue;
      }
      c.arp_probes = static_cast<std::uint8_t>(*n);
    }
  }
  return c;
}

StackCore::StackCore(Nic& nic, const Config& config)
    : nic_(nic),
      config_(config),
      ethernet_(nic, config_.mac, counters_),
      arp_(ethernet_, nic.pool(), config_, counters_),
      ipv4_(arp_, nic, config_, counters_),
      icmp_(ipv4_, config_, counters_),
      udp_(ipv4_, icmp_, counters_),
      tcp_(ipv4_, config_, counters_),
      random_state_(config.seed ^ (std::uint64_t(config.mac.bytes[2]) << 24 |
                                   std::uint64_t(config.mac.bytes[3]) << 16 |
                                   std::uint64_t(config.mac.bytes[4]) << 8 | config.mac.bytes[5])) {
  ethernet_.set_handlers([this](PacketPtr p, const FrameInfo& info,
                                std::uint64_t now) { arp_.input(std::move(p), info, now); },
                         [this](PacketPtr p, const FrameInfo& info, std::uint64_t now) {
                           ipv4_.input(std::move(p), info, now);
                         });
  ipv4_.set_icmp(&icmp_);
  ipv4_.register_protocol(ipv4::proto_icmp,
                          [this](const Ipv4Input& in, PacketPtr p, std::uint64_t now) {
                            icmp_.input(in, std::move(p), now);
                          });
  ipv4_.register_protocol(ipv4::proto_udp,
                          [this](const Ipv4Input& in, PacketPtr p, std::uint64_t now) {
                            udp_.input(in, std::move(p), now);
                          });
  arp_.set_drop_hook(
      [this](const Packet& datagram, SendResult why) { udp_.dropped(datagram.bytes(), why); });
  arp_.set_random([this](std::uint64_t n) { return random(n); });
  udp_.set_after_send([this] { poke(); });
  icmp_.set_error_handler(
      ipv4::proto_udp,
      [this](std::uint8_t type, std::uint8_t code, std::span<const std::uint8_t> quote,
             std::uint64_t) { udp_.icmp_error(type, code, quote); });
  udp_.set_random([this](std::uint64_t n) { return random(n); });
  ipv4_.register_protocol(ipv4::proto_tcp,
                          [this](const Ipv4Input& in, PacketPtr p, std::uint64_t now) {
                            tcp_.input(in, std::move(p), now);
                          });
  icmp_.set_error_handler(
      ipv4::proto_tcp,
      [this](std::uint8_t type, std::uint8_t code, std::span<const std::uint8_t> quote,
             std::uint64_t now) { tcp_.icmp_error(type, code, quote, now); });
  tcp_.set_random([this](std::uint64_t n) { return random(n); });
  tcp_.set_clock([this] { return now_ms_; });
  tcp_.set_after_send([this] { poke(); });
  if (config_.dhcp) {
    Dhcp::Hooks hooks;
    hooks.configure = [this](Ipv4Address a, std::uint8_t prefix, Ipv4Address gw) {
      configure(a, prefix, gw, now_ms_);
    };
    hooks.probe = [this](Ipv4Address ip, std::function<void(bool)> done) {
      arp_.probe(ip, config_.arp_probes, now_ms_, std::move(done));
    };
    hooks.random = [this](std::uint64_t n) { return random(n); };
    hooks.log = [](std::string_view line) { log_line(line); };
    dhcp_ = std::make_unique<Dhcp>(udp_, config_.mac, config_, counters_, std::move(hooks));
  }
}

std::uint64_t StackCore::random(std::uint64_t n) {
  // splitmix64 (Steele, Lea, Flood 2014): a fine spread for timers and ids.
  random_state_ += 0x9e3779b97f4a7c15ull;
  std::uint64_t z = random_state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return n ? z % n : z;
}

void StackCore::configure(Ipv4Address address, std::uint8_t prefix, Ipv4Address gateway,
                          std::uint64_t now_ms) {
  bool changed = address != config_.address;
  config_.address = address;
  config_.prefix = prefix;
  config_.gateway = gateway;
  if (!changed || address == Ipv4Address::any()) return;
  arp_.announce(now_ms);
  auto waiters = std::move(configured_waiters_);
  configured_waiters_.clear();
  for (auto& f : waiters) f();
  poke();
}

void StackCore::on_configured(std::function<void()> f) {
  if (configured())
    f();
  else
    configured_waiters_.push_back(std::move(f));
}

void StackCore::start(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  if (dhcp_)
    dhcp_->start(now_ms);
  else
    arp_.announce(now_ms);
  poke();
}

void StackCore::input(PacketPtr frame, std::uint64_t now_ms) {
  if (!frame) return;
  now_ms_ = now_ms;
  ethernet_.input(std::move(frame), now_ms);
  poke();
}

bool StackCore::needs_tick() const {
  return arp_.busy() || ipv4_.reassemblies_in_progress() > 0;
}

std::uint64_t StackCore::next_due(std::uint64_t now_ms) const {
  std::uint64_t due = needs_tick() ? now_ms + tick_ms : ~0ull;
  if (dhcp_) due = std::min(due, dhcp_->next_deadline());
  if (resolver_) due = std::min(due, resolver_->next_deadline());
  return std::min(due, tcp_.next_due());
}

std::optional<DnsResolver::Error> StackCore::resolve(std::string_view name, std::uint64_t now_ms,
                                                     DnsResolver::Callback done) {
  now_ms_ = now_ms;
  // The configured name server, else the first the DHCP lease names.
  Ipv4Address server = config_.nameserver;
  if (server == Ipv4Address::any() && dhcp_ && dhcp_->lease() && dhcp_->lease()->dns_count > 0)
    server = dhcp_->lease()->dns[0];
  if (server == Ipv4Address::any()) return DnsResolver::Error::unreachable;
  if (!resolver_ || (resolver_->server() != server && resolver_->outstanding() == 0))
    resolver_ =
        std::make_unique<DnsResolver>(udp_, server, [this](std::uint64_t n) { return random(n); });
  auto refused = resolver_->resolve(name, now_ms, std::move(done));
  poke();
  return refused;
}

void StackCore::tick(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  arp_.tick(now_ms);
  ipv4_.tick(now_ms);
  if (dhcp_) dhcp_->tick(now_ms);
  if (resolver_) resolver_->tick(now_ms);
  tcp_.tick(now_ms);
}

void StackCore::for_each_counter(
    const std::function<void(std::string_view name, std::uint64_t value)>& f) const {
  std::size_t count = 0;
  const CounterName* names = counter_names(count);
  for (std::size_t i = 0; i < count; ++i) f(names[i].name, counters_.*(names[i].field));
  f("pool.alloc_failures", nic_.pool().alloc_failures());
  f("pool.available", nic_.pool().available());
}

void StackCore::for_each_arp_entry(const std::function<void(const ArpEntryView&)>& f) const {
  arp_.for_each_entry(f, now_ms_);
}

}  // namespace rz::net
