// DNS messages: headers, names, questions, responses (see dns.hpp).
#include "net/dns.hpp"

#include <algorithm>
#include <cstring>

#include "net/bytes.hpp"

namespace rz::net::dns {

const char* to_string(Rcode r) {
  switch (r) {
    case Rcode::noerror:
      return "NOERROR";
    case Rcode::formerr:
      return "FORMERR";
    case Rcode::servfail:
      return "SERVFAIL";
    case Rcode::nxdomain:
      return "NXDOMAIN";
    case Rcode::notimp:
      return "NOTIMP";
    case Rcode::refused:
      return "REFUSED";
  }
  return "?";
}

const char* to_string(Error e) {
  switch (e) {
    case Error::truncated_header:
      return "truncated_header";
    case Error::truncated_name:
      return "truncated_name";
    case Error::bad_label_length:
      return "bad_label_length";
    case Error::name_too_long:
      return "name_too_long";
    case Error::pointer_forward:
      return "pointer_forward";
    case Error::too_many_pointers:
      return "too_many_pointers";
    case Error::truncated_question:
      return "truncated_question";
    case Error::bad_qdcount:
      return "bad_qdcount";
    case Error::truncated_record:
      return "truncated_record";
    case Error::bad_rdata:
      return "bad_rdata";
    case Error::not_response:
      return "not_response";
  }
  return "?";
}

// ---- header (4.1.1) -------------------------------------------------------------

std::optional<Header> Header::parse(std::span<const std::uint8_t> msg, Error& why) {
  if (msg.size() < header_size) {
    why = Error::truncated_header;
    return std::nullopt;
  }
  const std::uint8_t* b = msg.data();
  Header h;
  h.id = load16(b);
  std::uint16_t flags = load16(b + 2);
  h.qr = flags & 0x8000;
  h.opcode = static_cast<std::uint8_t>(flags >> 11 & 0xf);
  h.aa = flags & 0x0400;
  h.tc = flags & 0x0200;
  h.rd = flags & 0x0100;
  h.ra = flags & 0x0080;
  h.rcode = static_cast<std::uint8_t>(flags & 0xf);
  h.qdcount = load16(b + 4);
  h.ancount = load16(b + 6);
  h.nscount = load16(b + 8);
  h.arcount = load16(b + 10);
  return h;
}

void Header::emit(std::span<std::uint8_t, header_size> out) const {
  std::uint8_t* b = out.data();
  store16(b, id);
  std::uint16_t flags = static_cast<std::uint16_t>(
      (qr ? 0x8000 : 0) | (opcode & 0xf) << 11 | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) |
      (rd ? 0x0100 : 0) | (ra ? 0x0080 : 0) | (rcode & 0xf));
  store16(b + 2, flags);  // Z is zero
  store16(b + 4, qdcount);
  store16(b + 6, ancount);
  store16(b + 8, nscount);
  store16(b + 10, arcount);
}

// ---- names (3.1, 4.1.4) ---------------------------------------------------------

namespace {

std::uint8_t ascii_lower(std::uint8_t c) {
  return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

bool plain_char(std::uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

std::optional<Name> Name::from_text(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;  // the root is not a name to serve
  Name n;
  n.size_ = 0;
  while (true) {
    std::size_t dot = text.find('.');
    std::string_view label = text.substr(0, dot);
    if (label.empty() || label.size() > max_label) return std::nullopt;
    // Room for the length byte, the label and the root label after it.
    if (n.size_ + 1 + label.size() + 1 > max_name) return std::nullopt;
    n.bytes_[n.size_++] = static_cast<std::uint8_t>(label.size());
    for (char c : label) {
      if (!plain_char(static_cast<std::uint8_t>(c))) return std::nullopt;
      n.bytes_[n.size_++] = static_cast<std::uint8_t>(c);
    }
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  n.bytes_[n.size_++] = 0;
  return n;
}

std::optional<Name> Name::read(std::span<const std::uint8_t> msg, std::size_t& offset, Error& why) {
  Name n;
  n.size_ = 0;
  std::size_t pos = offset;
  // Where the labels being read began: a pointer must lead before it.
  std::size_t segment = offset;
  bool jumped = false;
  unsigned pointers = 0;
  while (true) {
    if (pos >= msg.size()) {
      why = Error::truncated_name;
      return std::nullopt;
    }
    std::uint8_t len = msg[pos];
    if ((len & 0xc0) == 0xc0) {
      // 4.1.4: a pointer, 11 then a 14-bit offset.
      if (pos + 1 >= msg.size()) {
        why = Error::truncated_name;
        return std::nullopt;
      }
      std::size_t target = std::size_t(len & 0x3f) << 8 | msg[pos + 1];
      if (!jumped) {
        offset = pos + 2;
        jumped = true;
      }
      if (++pointers > max_pointers) {
        why = Error::too_many_pointers;
        return std::nullopt;
      }
      if (target >= segment) {
        why = Error::pointer_forward;
        return std::nullopt;
      }
      pos = segment = target;
      continue;
    }
    if (len & 0xc0) {
      why = Error::bad_label_length;
      return std::nullopt;
    }
    if (len == 0) {
      n.bytes_[n.size_++] = 0;  // room is kept for it below
      if (!jumped) offset = pos + 1;
      return n;
    }
    if (pos + 1 + len > msg.size()) {
      why = Error::truncated_name;
      return std::nullopt;
    }
    if (n.size_ + 1 + len + 1 > max_name) {
      why = Error::name_too_long;
      return std::nullopt;
    }
    std::memcpy(n.bytes_.data() + n.size_, msg.data() + pos, 1 + len);
    n.size_ += 1 + len;
    pos += 1 + len;
  }
}

std::size_t Name::labels() const {
  std::size_t count = 0;
  for (std::size_t i = 0; bytes_[i] != 0; i += 1 + bytes_[i]) ++count;
  return count;
}

std::string Name::to_string() const {
  if (size_ <= 1) return ".";
  std::string s;
  for (std::size_t i = 0; bytes_[i] != 0; i += 1 + bytes_[i]) {
    if (!s.empty()) s += '.';
    for (std::size_t k = 1; k <= bytes_[i]; ++k) {
      std::uint8_t c = bytes_[i + k];
      if (plain_char(c)) {
        s += static_cast<char>(c);
      } else {
        s += '\\';
        s += static_cast<char>('0' + c / 100);
        s += static_cast<char>('0' + c / 10 % 10);
        s += static_cast<char>('0' + c % 10);
      }
    }
  }
  return s;
}

// Length bytes are at most 63, below every letter, and lowering changes
// letters only: byte-wise comparison of the lowered wire forms compares
// label by label.
bool operator==(const Name& a, const Name& b) {
  if (a.size_ != b.size_) return false;
  for (std::size_t i = 0; i < a.size_; ++i)
    if (ascii_lower(a.bytes_[i]) != ascii_lower(b.bytes_[i])) return false;
  return true;
}

// ---- questions (4.1.2) ----------------------------------------------------------

std::optional<Question> Question::read(std::span<const std::uint8_t> msg, std::size_t& offset,
                                       Error& why) {
  auto name = Name::read(msg, offset, why);
  if (!name) return std::nullopt;
  if (offset + 4 > msg.size()) {
    why = Error::truncated_question;
    return std::nullopt;
  }
  Question q;
  q.name = *name;
  q.qtype = load16(msg.data() + offset);
  q.qclass = load16(msg.data() + offset + 2);
  offset += 4;
  return q;
}

std::size_t Question::emit(std::span<std::uint8_t> out) const {
  auto wire = name.wire();
  std::size_t n = wire.size() + 4;
  if (out.size() < n) return 0;
  std::memcpy(out.data(), wire.data(), wire.size());
  store16(out.data() + wire.size(), qtype);
  store16(out.data() + wire.size() + 2, qclass);
  return n;
}

// ---- queries --------------------------------------------------------------------

std::optional<Query> Query::parse(std::span<const std::uint8_t> msg, Error& why) {
  auto header = Header::parse(msg, why);
  if (!header) return std::nullopt;
  if (header->qdcount != 1) {
    why = Error::bad_qdcount;
    return std::nullopt;
  }
  std::size_t offset = header_size;
  auto question = Question::read(msg, offset, why);
  if (!question) return std::nullopt;
  return Query{*header, *question};
}

std::size_t Query::emit(std::span<std::uint8_t> out, std::uint16_t id, const Question& question,
                        bool recursion_desired) {
  if (out.size() < header_size) return 0;
  std::size_t n = question.emit(out.subspan(header_size));
  if (n == 0) return 0;
  Header h;
  h.id = id;
  h.opcode = opcode_query;
  h.rd = recursion_desired;
  h.qdcount = 1;
  h.emit(out.first<header_size>());
  return header_size + n;
}

// ---- responses (4.1.3) ----------------------------------------------------------

std::optional<Response> Response::parse(std::span<const std::uint8_t> msg, Error& why) {
  auto header = Header::parse(msg, why);
  if (!header) return std::nullopt;
  if (!header->qr) {
    why = Error::not_response;
    return std::nullopt;
  }
  if (header->qdcount != 1) {
    why = Error::bad_qdcount;
    return std::nullopt;
  }
  std::size_t offset = header_size;
  auto question = Question::read(msg, offset, why);
  if (!question) return std::nullopt;
  Response r;
  r.header = *header;
  r.question = *question;
  // The name A records are wanted for: the question's, then each CNAME
  // target in turn (3.6.2), in the order the server lists them.
  Name wanted = question->name;
  for (unsigned i = 0; i < header->ancount; ++i) {
    auto owner = Name::read(msg, offset, why);
    if (!owner) return std::nullopt;
    if (offset + 10 > msg.size()) {
      why = Error::truncated_record;
      return std::nullopt;
    }
    const std::uint8_t* f = msg.data() + offset;
    std::uint16_t type = load16(f);
    std::uint16_t klass = load16(f + 2);
    std::uint32_t ttl = load32(f + 4);
    std::size_t rdlength = load16(f + 8);
    std::size_t rdata = offset + 10;
    if (rdata + rdlength > msg.size()) {
      why = Error::truncated_record;
      return std::nullopt;
    }
    offset = rdata + rdlength;
    if (klass != class_in || !(*owner == wanted)) continue;
    if (type == type_a) {
      if (rdlength != 4) {
        why = Error::bad_rdata;
        return std::nullopt;
      }
      if (r.address_count < max_addresses) {
        r.addresses[r.address_count++] = Ipv4Address{load32(msg.data() + rdata)};
        r.ttl = r.address_count == 1 ? ttl : std::min(r.ttl, ttl);
      }
    } else if (type == type_cname) {
      // The target must be exactly the RDATA (pointers allowed).
      std::size_t at = rdata;
      auto target = Name::read(msg.first(rdata + rdlength), at, why);
      if (!target) return std::nullopt;
      if (at != rdata + rdlength) {
        why = Error::bad_rdata;
        return std::nullopt;
      }
      wanted = *target;
    }
  }
  return r;
}

// ---- building responses ---------------------------------------------------------

ResponseWriter::ResponseWriter(std::span<std::uint8_t> out, const Header& query,
                               const Question* question, Rcode rcode, bool authoritative)
    : out_(out.first(std::min(out.size(), max_udp_message))) {
  header_.id = query.id;
  header_.qr = true;
  header_.opcode = query.opcode;  // 4.1.1: copied into the response
  header_.aa = authoritative;
  header_.rd = query.rd;  // 4.1.1: copied
  header_.ra = false;     // no recursion here
  header_.rcode = static_cast<std::uint8_t>(rcode);
  if (out_.size() < header_size) {
    out_ = {};  // nothing fits: message() is empty
    return;
  }
  size_ = header_size;
  if (question) {
    std::size_t n = question->emit(out_.subspan(size_));
    if (n) {
      size_ += n;
      header_.qdcount = 1;
    } else {
      header_.tc = true;
    }
  }
  header_.emit(out_.first<header_size>());
}

bool ResponseWriter::add_a(Ipv4Address address, std::uint32_t ttl) {
  // NAME (a pointer to the question's, at offset 12) TYPE CLASS TTL
  // RDLENGTH RDATA: 16 bytes.
  constexpr std::size_t record_size = 16;
  if (out_.empty() || header_.qdcount != 1) return false;
  if (size_ + record_size > out_.size()) {
    header_.tc = true;
    header_.emit(out_.first<header_size>());
    return false;
  }
  std::uint8_t* b = out_.data() + size_;
  store16(b, 0xc000 | header_size);
  store16(b + 2, type_a);
  store16(b + 4, class_in);
  store32(b + 6, ttl);
  store16(b + 10, 4);
  store32(b + 12, address.value);
  size_ += record_size;
  ++header_.ancount;
  header_.emit(out_.first<header_size>());
  return true;
}

}  // namespace rz::net::dns
