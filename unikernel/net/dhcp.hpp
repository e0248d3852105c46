// The DHCP client (RFC 2131, options RFC 2132), for one interface.
//
// States (RFC 2131 figure 5): INIT -> SELECTING (DISCOVER sent) ->
// REQUESTING (REQUEST for the first OFFER) -> PROBING (the ACKed address is
// checked with ARP probes, RFC 5227 2.1; in use: DECLINE, wait 10 s, INIT)
// -> BOUND -> RENEWING at T1 (REQUEST unicast to the server) -> REBINDING
// at T2 (REQUEST broadcast) -> lease expiry: the address is dropped, INIT.
// A NAK in any state restarts from INIT. Without a lease after
// Config::dhcp_timeout_ms, a configured fallback address is used instead
// (state FALLBACK, no more DHCP).
//
// Retransmission (4.1): 4 s before the first, doubling up to 64 s, each
// randomized by -1..+1 s; in RENEWING and REBINDING (4.4.5) half the time
// left until T2 (or the lease's end), at least 60 s. T1 and T2 default to
// 0.5 and 0.875 of the lease (or options 58/59), with a +-2.5 % fuzz.
//
// Messages are parsed strictly: a BOOTREPLY for our xid and MAC, the magic
// cookie, options each within the message, fixed-length options of their
// length, an END option, a message type. Anything else is dropped and
// counted (dhcp.rx.drop.*); the client carries on as if it never came.
//
// Wire format (RFC 2131 2): op htype hlen hops xid(4) secs(2) flags(2)
// ciaddr yiaddr siaddr giaddr chaddr(16) sname(64) file(128) cookie(4)
// options; 236 bytes before the cookie.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "net/addresses.hpp"
#include "net/counters.hpp"
#include "net/udp.hpp"

namespace rz::net::dhcp {

inline constexpr std::uint16_t server_port = 67;
inline constexpr std::uint16_t client_port = 68;
inline constexpr std::size_t fixed_size = 236;  // before the magic cookie
inline constexpr std::uint32_t magic_cookie = 0x63825363;

enum class MessageType : std::uint8_t {
  discover = 1,
  offer = 2,
  request = 3,
  decline = 4,
  ack = 5,
  nak = 6,
  release = 7,
  inform = 8,
};
const char* to_string(MessageType t);

// Option codes (RFC 2132).
inline constexpr std::uint8_t opt_pad = 0;
inline constexpr std::uint8_t opt_subnet_mask = 1;
inline constexpr std::uint8_t opt_router = 3;
inline constexpr std::uint8_t opt_dns = 6;
inline constexpr std::uint8_t opt_hostname = 12;
inline constexpr std::uint8_t opt_requested_ip = 50;
inline constexpr std::uint8_t opt_lease_time = 51;
inline constexpr std::uint8_t opt_overload = 52;
inline constexpr std::uint8_t opt_message_type = 53;
inline constexpr std::uint8_t opt_server_id = 54;
inline constexpr std::uint8_t opt_parameter_list = 55;
inline constexpr std::uint8_t opt_max_message_size = 57;
inline constexpr std::uint8_t opt_renewal_time = 58;
inline constexpr std::uint8_t opt_rebinding_time = 59;
inline constexpr std::uint8_t opt_client_id = 61;
inline constexpr std::uint8_t opt_end = 255;

inline constexpr std::size_t max_dns_servers = 3;

// A server's reply, as far as the client uses it.
struct Reply {
  std::uint32_t xid = 0;
  MacAddress chaddr;
  Ipv4Address yiaddr;
  MessageType type{};
  std::optional<Ipv4Address> server_id;
  std::optional<Ipv4Address> subnet_mask;
  std::optional<Ipv4Address> router;
  std::array<Ipv4Address, max_dns_servers> dns{};
  std::size_t dns_count = 0;
  std::optional<std::uint32_t> lease_s;
  std::optional<std::uint32_t> renewal_s;
  std::optional<std::uint32_t> rebinding_s;

  enum class Error {
    truncated,   // shorter than the fixed part and the cookie
    not_reply,   // op is not BOOTREPLY, or not Ethernet addresses
    bad_cookie,  // no magic cookie
    bad_option,  // an option runs past the end, or has a wrong length
    no_end,      // the options have no END
    no_type,     // no message type option
  };
  static std::optional<Reply> parse(std::span<const std::uint8_t> bytes, Error& why);
};

// What a client message carries.
struct Request {
  MessageType type = MessageType::discover;
  std::uint32_t xid = 0;
  std::uint16_t secs = 0;
  MacAddress chaddr;
  Ipv4Address ciaddr;
  std::optional<Ipv4Address> requested_ip;
  std::optional<Ipv4Address> server_id;
  // Writes the message (fixed part, cookie, options); returns its size.
  std::size_t emit(std::span<std::uint8_t, 548> out) const;
};

}  // namespace rz::net::dhcp

namespace rz::net {

// A lease as the client holds it.
struct DhcpLease {
  Ipv4Address address;
  std::uint8_t prefix = 0;
  Ipv4Address gateway;
  Ipv4Address server;
  std::array<Ipv4Address, dhcp::max_dns_servers> dns{};
  std::size_t dns_count = 0;
  std::uint32_t lease_s = 0;
  std::uint64_t acquired_ms = 0;  // when the ACK came
  std::uint64_t t1_ms = 0;        // renewal, from acquired_ms
  std::uint64_t t2_ms = 0;        // rebinding, from acquired_ms
};

class Dhcp {
 public:
  enum class State : std::uint8_t {
    init,
    selecting,
    requesting,
    probing,
    declined,  // waiting 10 s after a DECLINE (RFC 2131 3.1.5)
    bound,
    renewing,
    rebinding,
    fallback,
  };
  static const char* to_string(State s);

  static constexpr std::uint64_t first_retransmit_ms = 4000;
  static constexpr std::uint64_t max_retransmit_ms = 64000;
  static constexpr std::uint64_t jitter_ms = 1000;
  static constexpr std::uint64_t min_renew_retransmit_ms = 60000;
  static constexpr std::uint64_t decline_wait_ms = 10000;
  static constexpr unsigned max_requests = 4;  // REQUESTs in REQUESTING before INIT

  // What the client needs of the stack.
  struct Hooks {
    // Applies an address (0.0.0.0: none), prefix and gateway.
    std::function<void(Ipv4Address address, std::uint8_t prefix, Ipv4Address gateway)> configure;
    // Probes an address with ARP (Arp::probe).
    std::function<void(Ipv4Address ip, std::function<void(bool conflict)> done)> probe;
    // Random numbers in [0, n).
    std::function<std::uint64_t(std::uint64_t n)> random;
    // One line for the console.
    std::function<void(std::string_view line)> log;
  };

  Dhcp(Udp& udp, MacAddress mac, const Config& config, Counters& counters, Hooks hooks);
  Dhcp(const Dhcp&) = delete;
  Dhcp& operator=(const Dhcp&) = delete;

  // Starts from INIT (sends the first DISCOVER).
  void start(std::uint64_t now);
  void tick(std::uint64_t now);
  // The next time tick() has something to do.
  std::uint64_t next_deadline() const { return deadline_; }

  State state() const { return state_; }
  // The lease held (BOUND, RENEWING, REBINDING), if any.
  const std::optional<DhcpLease>& lease() const { return lease_; }
  std::uint32_t xid() const { return xid_; }
  // Messages sent and received, by type.
  struct Stats {
    std::uint64_t discovers = 0, requests = 0, declines = 0;
    std::uint64_t offers = 0, acks = 0, naks = 0;
    std::uint64_t leases = 0;  // ACKs that led to BOUND
  };
  const Stats& stats() const { return stats_; }

 private:
  void input(const UdpDatagram& d, std::uint64_t now);
  void on_offer(const dhcp::Reply& r, std::uint64_t now);
  void on_ack(const dhcp::Reply& r, std::uint64_t now);
  void on_nak(std::uint64_t now);
  void probed(bool conflict, std::uint64_t now);
  void bind(std::uint64_t now);
  void restart(std::uint64_t now);
  void send(dhcp::MessageType type, std::uint64_t now);
  void schedule_retransmit(std::uint64_t now);
  void schedule_lease_timer(std::uint64_t now);
  void enter(State s, std::uint64_t now);
  void drop_lease();
  std::uint64_t jitter();

  Udp& udp_;
  UdpSocket* socket_ = nullptr;
  MacAddress mac_;
  const Config& config_;
  Counters& counters_;
  Hooks hooks_;
  State state_ = State::init;
  std::uint32_t xid_ = 0;
  std::uint64_t started_ms_ = 0;      // of the current exchange (secs field)
  std::uint64_t first_start_ms_ = 0;  // of the client (fallback timeout)
  std::uint64_t deadline_ = ~0ull;    // next timed event
  std::uint64_t backoff_ms_ = 0;
  unsigned attempts_ = 0;
  std::uint64_t now_ms_ = 0;
  // From the chosen OFFER, then the ACK.
  Ipv4Address offered_;
  Ipv4Address server_;
  std::optional<dhcp::Reply> pending_ack_;  // the ACK being probed
  std::optional<DhcpLease> lease_;
  bool ever_bound_ = false;
  Stats stats_;
};

}  // namespace rz::net
