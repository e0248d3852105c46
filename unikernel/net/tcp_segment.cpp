// TCP header and options (see tcp_segment.hpp).
#include "net/tcp_segment.hpp"

#include "net/bytes.hpp"
#include "net/checksum.hpp"
#include "net/ipv4.hpp"

namespace rz::net::tcp {

Options Options::parse(std::span<const std::uint8_t> b) {
  Options o;
  std::size_t i = 0;
  while (i < b.size()) {
    std::uint8_t kind = b[i];
    if (kind == opt_end) break;
    if (kind == opt_nop) {
      ++i;
      continue;
    }
    if (i + 1 >= b.size() || b[i + 1] < 2 || i + b[i + 1] > b.size()) {
      o.malformed = true;
      break;
    }
    std::uint8_t len = b[i + 1];
    const std::uint8_t* v = b.data() + i + 2;
    switch (kind) {
      case opt_mss:
        if (len == 4) o.mss = load16(v);
        break;
      case opt_wscale:
        if (len == 3) o.wscale = v[0];
        break;
      case opt_sack_permitted:
        if (len == 2) o.sack_permitted = true;
        break;
      case opt_timestamps:
        if (len == 10) {
          o.timestamps = true;
          o.ts_val = load32(v);
          o.ts_ecr = load32(v + 4);
        }
        break;
      default:
        break;  // unknown kinds (and SACK blocks, unsupported) are skipped
    }
    i += len;
  }
  return o;
}

std::size_t Options::emit(std::span<std::uint8_t> out) const {
  std::uint8_t* p = out.data();
  std::size_t n = 0;
  if (mss) {
    p[n] = opt_mss;
    p[n + 1] = 4;
    store16(p + n + 2, *mss);
    n += 4;
  }
  if (wscale) {
    p[n] = opt_nop;
    p[n + 1] = opt_wscale;
    p[n + 2] = 3;
    p[n + 3] = *wscale;
    n += 4;
  }
  if (sack_permitted && !timestamps) {
    p[n] = opt_nop;
    p[n + 1] = opt_nop;
    p[n + 2] = opt_sack_permitted;
    p[n + 3] = 2;
    n += 4;
  }
  if (timestamps) {
    if (sack_permitted) {
      p[n] = opt_sack_permitted;
      p[n + 1] = 2;
    } else {
      p[n] = opt_nop;
      p[n + 1] = opt_nop;
    }
    p[n + 2] = opt_timestamps;
    p[n + 3] = 10;
    store32(p + n + 4, ts_val);
    store32(p + n + 8, ts_ecr);
    n += 12;
  }
  return n;
}

namespace {

std::uint16_t pseudo_sum(std::span<const std::uint8_t> segment, Ipv4Address src, Ipv4Address dst) {
  Checksum c;
  c.add32(src.value);
  c.add32(dst.value);
  c.add16(ipv4::proto_tcp);
  c.add16(static_cast<std::uint16_t>(segment.size()));
  c.add(segment);
  return c.finish();
}

}  // namespace

std::optional<Segment> Segment::parse(std::span<const std::uint8_t> b, Ipv4Address src,
                                      Ipv4Address dst, Error& why) {
  if (b.size() < min_header_size) {
    why = Error::truncated;
    return std::nullopt;
  }
  Segment s;
  s.header_size = static_cast<std::uint8_t>((b[12] >> 4) * 4);
  if (s.header_size < min_header_size || s.header_size > b.size()) {
    why = Error::bad_offset;
    return std::nullopt;
  }
  if (pseudo_sum(b, src, dst) != 0) {
    why = Error::bad_checksum;
    return std::nullopt;
  }
  s.src_port = load16(b.data());
  s.dst_port = load16(b.data() + 2);
  s.seq = load32(b.data() + 4);
  s.ack = load32(b.data() + 8);
  s.flags = b[13];
  s.window = load16(b.data() + 14);
  s.checksum = load16(b.data() + 16);
  s.urgent = load16(b.data() + 18);
  s.options = Options::parse(b.subspan(min_header_size, s.header_size - min_header_size));
  s.payload = b.subspan(s.header_size);
  return s;
}

std::size_t emit_header(std::span<std::uint8_t> out, std::uint16_t src_port, std::uint16_t dst_port,
                        std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                        std::uint16_t window, const Options& options) {
  std::uint8_t* p = out.data();
  std::size_t opt = options.emit(out.subspan(min_header_size));
  std::size_t size = min_header_size + opt;
  store16(p, src_port);
  store16(p + 2, dst_port);
  store32(p + 4, seq);
  store32(p + 8, ack);
  p[12] = static_cast<std::uint8_t>((size / 4) << 4);
  p[13] = flags;
  store16(p + 14, window);
  store16(p + 16, 0);
  store16(p + 18, 0);
  return size;
}

std::uint16_t checksum(std::span<const std::uint8_t> segment, Ipv4Address src, Ipv4Address dst) {
  return pseudo_sum(segment, src, dst);
}

}  // namespace rz::net::tcp
