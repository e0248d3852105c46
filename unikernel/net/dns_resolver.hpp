// A stub resolver (RFC 1035 7, RFC 1123 6.1.3) for services: A records of
// one name at a time from one server, over UDP.
//
// Each query gets a random 16-bit id, unique among those outstanding, and
// goes from one ephemeral port (bound once) to the server's port 53. A
// reply counts only when it comes from the server's address and port 53
// and carries an outstanding id and that query's question (name compared
// case-insensitively, type A, class IN) -- RFC 5452 9.1; anything else is
// dropped and counted. Without a reply the query is sent again after 1 s,
// then 2 s, and given up 4 s after the third try (RFC 1536 1: back off,
// do not hammer). At most max_outstanding queries at a time.
//
// The resolver keeps no clock: time comes in with resolve() and tick(),
// and next_deadline() says when tick() has work. Callbacks run from
// input (the UDP socket's receive callback) or tick(), once per query.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <variant>

#include "net/dns.hpp"
#include "net/udp.hpp"

namespace rz::net {

class DnsResolver {
 public:
  static constexpr std::size_t max_outstanding = 16;
  static constexpr unsigned max_tries = 3;
  static constexpr std::uint64_t first_timeout_ms = 1000;  // doubled after each try

  enum class Error : std::uint8_t {
    bad_name,      // not a host name (resolve() refuses it)
    busy,          // max_outstanding queries already (resolve() refuses it)
    no_socket,     // no UDP port could be bound (resolve() refuses it)
    unreachable,   // the first try could not be sent (resolve() refuses it)
    nxdomain,      // RCODE 3: the name does not exist
    no_data,       // NOERROR without an A record (the name exists)
    server_error,  // another RCODE (SERVFAIL, REFUSED, ...)
    truncated,     // TC without an A record (no TCP here)
    timeout,       // no reply to max_tries tries
  };
  static const char* to_string(Error e);

  // The first A record of the answer, or why there is none.
  using Result = std::variant<Ipv4Address, Error>;
  using Callback = std::function<void(const Result&)>;
  // Random numbers in [0, n) (StackCore::random in the kernel).
  using Random = std::function<std::uint64_t(std::uint64_t n)>;

  DnsResolver(Udp& udp, Ipv4Address server, Random random);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // Called after each datagram sent from resolve() or tick(); in the kernel,
  // StackCore::poke (sends from outside the stack's input and tick).
  void set_after_send(std::function<void()> f) { after_send_ = std::move(f); }

  // Asks for the A records of `name`. nullopt: the query is out, and `done`
  // will be called exactly once (never from within this call). An Error:
  // it is not (bad_name, busy, no_socket, unreachable), and `done` is not.
  std::optional<Error> resolve(std::string_view name, std::uint64_t now_ms, Callback done);
  // Retransmissions and timeouts due by now_ms.
  void tick(std::uint64_t now_ms);
  // The earliest time tick() has work, or ~0 when nothing is outstanding.
  std::uint64_t next_deadline() const;
  std::size_t outstanding() const;
  Ipv4Address server() const { return server_; }
  // The local UDP port (0 when none could be bound).
  std::uint16_t port() const { return socket_ ? socket_->port() : 0; }

  struct Stats {
    std::uint64_t queries = 0;  // resolve() calls that sent
    std::uint64_t retransmits = 0;
    std::uint64_t answers = 0;   // an address came back
    std::uint64_t failures = 0;  // nxdomain .. timeout, reported to a callback
    std::uint64_t timeouts = 0;
    std::uint64_t tx_failed = 0;            // tries that could not be sent
    std::uint64_t drop_wrong_source = 0;    // not from the server's address and port 53
    std::uint64_t drop_malformed = 0;       // not a response, or does not parse
    std::uint64_t drop_unknown_id = 0;      // no outstanding query has its id
    std::uint64_t drop_wrong_question = 0;  // its id, another question
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Pending {
    bool used = false;
    std::uint16_t id = 0;
    dns::Question question;
    unsigned tries = 0;
    std::uint64_t timeout_ms = 0;  // of the current try
    std::uint64_t deadline = 0;
    Callback done;
  };
  void input(const UdpDatagram& d);
  bool send(Pending& p, std::uint64_t now_ms);
  void finish(Pending& p, const Result& r);
  std::uint16_t new_id();

  Udp& udp_;
  UdpSocket* socket_ = nullptr;
  Ipv4Address server_;
  Random random_;
  std::function<void()> after_send_;
  std::array<Pending, max_outstanding> pending_;
  Stats stats_;
};

}  // namespace rz::net
