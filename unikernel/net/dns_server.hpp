// A DNS server (RFC 1035) over UDP port 53, authoritative for the A records
// of its configuration and nothing else (no recursion, RA 0).
//
// What a query gets (RFC 1035 4.1.1; the codec is dns.hpp):
//   - under 12 bytes, or QR set (a response): nothing (counted);
//   - OPCODE other than QUERY: NOTIMP;
//   - QDCOUNT not 1, or a question that does not parse: FORMERR, with the
//     id, and no question;
//   - QCLASS other than IN (or *): REFUSED;
//   - a name we do not have: NXDOMAIN, AA;
//   - a name we have, QTYPE A or *: NOERROR, AA, its A records (TTL 60 s);
//   - a name we have, another QTYPE (AAAA, MX, ...): NOERROR, no answers
//     (NODATA, RFC 2308 2.2).
// Responses copy the id, OPCODE, RD and the question as it was asked (its
// case too, RFC 4343 4.1), and stay within 512 bytes (4.2.1): answers that
// do not fit are left out and TC set. Every outcome has a counter.
//
// Configuration, from the "dns=" command-line word:
//   "www.example.test:10.33.0.50,www.example.test:10.33.0.51,ns.test:10.0.0.1"
// A name may appear several times (one A record each, answered together).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/dns.hpp"
#include "net/udp.hpp"

namespace rz::net {

class DnsServer {
 public:
  static constexpr std::uint32_t ttl_s = 60;
  static constexpr std::size_t max_records = 64;

  struct Record {
    dns::Name name;
    Ipv4Address address;
  };
  // Parses a configuration; on error, nullopt and `why` (one line).
  static std::optional<std::vector<Record>> parse_spec(std::string_view spec, std::string& why);

  explicit DnsServer(std::vector<Record> records);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Binds UDP port 53 of `udp` and answers there; false when it is taken.
  bool start(Udp& udp);
  // The answer to one query datagram: written to `out` (512 bytes are
  // enough), its size returned; 0 when the datagram gets none. Counts.
  std::size_t answer(std::span<const std::uint8_t> query, std::span<std::uint8_t> out);

  const std::vector<Record>& records() const { return records_; }

  struct Stats {
    std::uint64_t queries = 0;           // datagrams received
    std::uint64_t answered = 0;          // NOERROR with answers
    std::uint64_t nodata = 0;            // NOERROR without (a known name, another type)
    std::uint64_t nxdomain = 0;          // unknown names
    std::uint64_t formerr = 0;           // by reason in `malformed`
    std::uint64_t notimp = 0;            // OPCODE not QUERY
    std::uint64_t refused = 0;           // QCLASS not IN
    std::uint64_t truncated = 0;         // TC set: answers left out
    std::uint64_t dropped_short = 0;     // under 12 bytes
    std::uint64_t dropped_response = 0;  // QR set
    std::uint64_t tx_failed = 0;         // the reply could not be sent
    std::array<std::uint64_t, dns::error_count> malformed{};  // FORMERR reasons
  };
  const Stats& stats() const { return stats_; }
  // Every counter by name ("dns.rx.queries", "dns.tx.nxdomain",
  // "dns.rx.formerr.pointer_forward", ...).
  void for_each_counter(
      const std::function<void(std::string_view name, std::uint64_t value)>& f) const;

 private:
  void input(const UdpDatagram& d);

  std::vector<Record> records_;
  UdpSocket* socket_ = nullptr;
  Stats stats_;
  std::array<std::uint8_t, dns::max_udp_message> reply_{};
};

// Starts answering on UDP port 53 of `udp` for the records in `spec`
// ("name:a.b.c.d,name2:a.b.c.d", as given by the "dns=" command-line word).
// False, with one line logged through log_line(), when `spec` is malformed,
// the port is taken or a server runs already. On success logs
// "dns: serving N records on port 53".
bool start_dns_server(Udp& udp, std::string_view spec);
// The server start_dns_server() started, or nullptr.
DnsServer* dns_server();
// Stops and destroys it (host tests; the kernel never stops it).
void stop_dns_server();

}  // namespace rz::net
