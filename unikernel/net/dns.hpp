// DNS messages (RFC 1035 4.1): the codec the server (dns_server.hpp) and the
// resolver (dns_resolver.hpp) share. No I/O: spans in, spans out.
//
// Header (4.1.1, 12 bytes): id(2) flags(2) qdcount(2) ancount(2) nscount(2)
// arcount(2); flags, high bit first: QR(1) OPCODE(4) AA(1) TC(1) RD(1)
// RA(1) Z(3) RCODE(4). Z is ignored (RFC 2535/4035 use two of its bits).
// Question (4.1.2): QNAME QTYPE(2) QCLASS(2). Resource record (4.1.3): NAME
// TYPE(2) CLASS(2) TTL(4) RDLENGTH(2) RDATA.
//
// Names (3.1, 4.1.4): labels of 1..63 bytes, each after its length byte,
// ending with the zero-length root label; at most 255 bytes in all. A
// length byte with the top two bits set is a pointer (14-bit offset from
// the start of the message) to the rest of the name. Length bytes 64..191
// (the other two top-bit patterns, RFC 6891 6.2) are rejected. Pointers
// must go backwards, before the start of the labels that led to them, so
// that a chain of them can never loop; there is a hop limit besides.
// Names compare case-insensitively, ASCII letters only (2.3.3, RFC 4343).
//
// Every parse failure is a distinct Error, for the counters.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "net/addresses.hpp"

namespace rz::net::dns {

inline constexpr std::uint16_t port = 53;
inline constexpr std::size_t header_size = 12;
// 4.2.1: a UDP message is at most 512 bytes (without EDNS, which we do not do).
inline constexpr std::size_t max_udp_message = 512;
inline constexpr std::size_t max_label = 63;  // 2.3.4
inline constexpr std::size_t max_name = 255;  // 2.3.4, length bytes included
// Pointers followed while reading one name; a real name needs a handful.
inline constexpr unsigned max_pointers = 32;

// 3.2.2, 3.2.3 (and RFC 3596 for AAAA).
inline constexpr std::uint16_t type_a = 1;
inline constexpr std::uint16_t type_ns = 2;
inline constexpr std::uint16_t type_cname = 5;
inline constexpr std::uint16_t type_aaaa = 28;
inline constexpr std::uint16_t type_any = 255;  // QTYPE "*"
// 3.2.4, 3.2.5.
inline constexpr std::uint16_t class_in = 1;
inline constexpr std::uint16_t class_any = 255;  // QCLASS "*"

// 4.1.1 OPCODE.
inline constexpr std::uint8_t opcode_query = 0;

// 4.1.1 RCODE.
enum class Rcode : std::uint8_t {
  noerror = 0,
  formerr = 1,   // the server could not interpret the query
  servfail = 2,  // the server could not process it
  nxdomain = 3,  // the name does not exist (authoritative answers only)
  notimp = 4,    // the kind of query is not supported
  refused = 5,   // policy
};
const char* to_string(Rcode r);

enum class Error : std::uint8_t {
  truncated_header,    // fewer than 12 bytes
  truncated_name,      // a name (or a pointer) runs past the end
  bad_label_length,    // a length byte of 64..191: neither a label nor a pointer
  name_too_long,       // over 255 bytes once pointers are followed
  pointer_forward,     // a pointer that is not strictly backwards (a loop)
  too_many_pointers,   // more than max_pointers in one name
  truncated_question,  // no room for QTYPE and QCLASS
  bad_qdcount,         // not exactly one question
  truncated_record,    // a resource record runs past the end
  bad_rdata,           // an A record whose RDLENGTH is not 4 (or a bad CNAME)
  not_response,        // a response was expected and QR is 0
};
inline constexpr std::size_t error_count = static_cast<std::size_t>(Error::not_response) + 1;
const char* to_string(Error e);

struct Header {
  std::uint16_t id = 0;
  bool qr = false;  // response
  std::uint8_t opcode = 0;
  bool aa = false;  // authoritative answer
  bool tc = false;  // truncated
  bool rd = false;  // recursion desired
  bool ra = false;  // recursion available
  std::uint8_t rcode = 0;
  std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;

  static std::optional<Header> parse(std::span<const std::uint8_t> msg, Error& why);
  void emit(std::span<std::uint8_t, header_size> out) const;
};

// A domain name in its uncompressed wire form (length-prefixed labels and
// the root label), spelled as it was received or configured.
class Name {
 public:
  // The root name.
  Name() = default;
  // "www.example.test" (a trailing dot allowed): labels of 1..63 letters,
  // digits, '-' or '_', 255 bytes at most in wire form.
  static std::optional<Name> from_text(std::string_view text);
  // Reads the name at `offset` of `msg`, following pointers; `offset` moves
  // past the name as it lies there (after its first pointer, if any).
  static std::optional<Name> read(std::span<const std::uint8_t> msg, std::size_t& offset,
                                  Error& why);

  std::span<const std::uint8_t> wire() const { return {bytes_.data(), size_}; }
  std::size_t size() const { return size_; }
  std::size_t labels() const;
  // Dotted, without the final dot ("." for the root); bytes other than
  // letters, digits, '-' and '_' as \DDD (5.1).
  std::string to_string() const;
  // Case-insensitive (2.3.3, RFC 4343 3).
  friend bool operator==(const Name& a, const Name& b);

 private:
  std::array<std::uint8_t, max_name> bytes_{0};
  std::size_t size_ = 1;
};

struct Question {
  Name name;
  std::uint16_t qtype = type_a;
  std::uint16_t qclass = class_in;

  // Reads a question at `offset` (moved past it).
  static std::optional<Question> read(std::span<const std::uint8_t> msg, std::size_t& offset,
                                      Error& why);
  // Writes the name uncompressed, then QTYPE and QCLASS; the bytes written,
  // or 0 when `out` is too small.
  std::size_t emit(std::span<std::uint8_t> out) const;
};

// A query: the header, then exactly one question; further sections (an
// EDNS OPT record, say) are not read.
struct Query {
  Header header;
  Question question;

  static std::optional<Query> parse(std::span<const std::uint8_t> msg, Error& why);
  // A standard query (opcode 0) for `question`; the bytes written, or 0
  // when `out` is too small.
  static std::size_t emit(std::span<std::uint8_t> out, std::uint16_t id, const Question& question,
                          bool recursion_desired);
};

// A response as a resolver uses it: the header, its one question, and the
// A records of the answer section for the question's name (or for the
// target of a CNAME chain from it, 3.6.2). Other records are skipped;
// each is still checked to lie inside the message.
struct Response {
  static constexpr std::size_t max_addresses = 8;

  Header header;
  Question question;
  std::array<Ipv4Address, max_addresses> addresses{};
  std::size_t address_count = 0;  // beyond max_addresses are not kept
  std::uint32_t ttl = 0;          // the lowest TTL among the addresses kept

  static std::optional<Response> parse(std::span<const std::uint8_t> msg, Error& why);
};

// Writes a response to a query into a buffer of at most 512 bytes: the
// header (the query's id, opcode and RD; QR set; RA 0), the question when
// there is one, then A answers whose names point at the question's (0xC00C).
// An answer that does not fit sets TC instead (4.2.1, RFC 2181 9).
class ResponseWriter {
 public:
  // `question` null: none is echoed (QDCOUNT 0), as for a FORMERR about a
  // question that could not be read.
  ResponseWriter(std::span<std::uint8_t> out, const Header& query, const Question* question,
                 Rcode rcode, bool authoritative);
  // False (and TC set) when there is no room for it.
  bool add_a(Ipv4Address address, std::uint32_t ttl);
  bool truncated() const { return header_.tc; }
  std::uint16_t answers() const { return header_.ancount; }
  // The message so far.
  std::span<const std::uint8_t> message() const { return out_.first(size_); }

 private:
  std::span<std::uint8_t> out_;
  Header header_;
  std::size_t size_ = 0;
};

}  // namespace rz::net::dns
