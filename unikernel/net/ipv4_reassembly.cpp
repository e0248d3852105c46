// IPv4 reassembly (see ipv4_reassembly.hpp).
#include "net/ipv4_reassembly.hpp"

#include <algorithm>
#include <cstring>

#include "net/bytes.hpp"
#include "net/checksum.hpp"

namespace rz::net {

Reassembler::Reassembler(const std::uint32_t& timeout_ms, Counters& counters)
    : timeout_ms_(timeout_ms),
      counters_(counters),
      arena_(new std::uint8_t[chunk_count * chunk_size]),
      free_(new std::uint16_t[chunk_count]),
      output_(new std::uint8_t[max_size + 1]) {
  for (std::size_t i = 0; i < chunk_count; ++i)
    free_[free_count_++] = static_cast<std::uint16_t>(chunk_count - 1 - i);
}

std::size_t Reassembler::in_progress() const {
  return static_cast<std::size_t>(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.used; }));
}

Reassembler::Slot* Reassembler::find(const Fragment& f) {
  for (auto& s : slots_)
    if (s.used && s.id == f.id && s.src == f.src && s.dst == f.dst && s.protocol == f.protocol)
      return &s;
  return nullptr;
}

Reassembler::Slot& Reassembler::create(const Fragment& f, std::uint64_t now) {
  Slot* slot = nullptr;
  for (auto& s : slots_) {
    if (!s.used) {
      slot = &s;
      break;
    }
    if (!slot || s.created_ms < slot->created_ms) slot = &s;
  }
  if (slot->used) {
    // Every slot busy: the oldest datagram makes room.
    ++counters_.ipv4_frag_drop_limit;
    drop(*slot);
  }
  slot->used = true;
  slot->src = f.src;
  slot->dst = f.dst;
  slot->protocol = f.protocol;
  slot->id = f.id;
  slot->created_ms = now;
  return *slot;
}

void Reassembler::drop(Slot& s) {
  for (auto& c : s.chunks)
    if (c) free_[free_count_++] = static_cast<std::uint16_t>(c - 1);
  s = Slot{};
}

bool Reassembler::store(Slot& s, std::uint32_t offset, std::span<const std::uint8_t> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    std::uint32_t pos = offset + static_cast<std::uint32_t>(done);
    std::uint16_t& chunk = s.chunks[pos / chunk_size];
    while (!chunk) {
      if (free_count_ > 0) {
        chunk = static_cast<std::uint16_t>(free_[--free_count_] + 1);
        break;
      }
      // The arena is full: drop the oldest other datagram.
      Slot* oldest = nullptr;
      for (auto& o : slots_)
        if (o.used && &o != &s && (!oldest || o.created_ms < oldest->created_ms)) oldest = &o;
      if (!oldest) return false;
      ++counters_.ipv4_frag_drop_limit;
      drop(*oldest);
    }
    std::size_t in_chunk = pos % chunk_size;
    std::size_t n = std::min(chunk_size - in_chunk, data.size() - done);
    std::memcpy(arena_.get() + (chunk - 1) * chunk_size + in_chunk, data.data() + done, n);
    done += n;
  }
  return true;
}

bool Reassembler::add_piece(Slot& s, std::uint32_t begin, std::uint32_t end) {
  // The caller checked that [begin, end) overlaps nothing. Merge with the
  // neighbours it touches, keep the list sorted.
  std::size_t i = 0;
  while (i < s.piece_count && s.pieces[i].end < begin) ++i;
  // pieces[i] is the first that ends at or after begin.
  bool join_left = i < s.piece_count && s.pieces[i].end == begin;
  if (join_left) {
    s.pieces[i].end = end;
    if (i + 1 < s.piece_count && s.pieces[i + 1].begin == end) {
      s.pieces[i].end = s.pieces[i + 1].end;
      for (std::size_t j = i + 1; j + 1 < s.piece_count; ++j) s.pieces[j] = s.pieces[j + 1];
      --s.piece_count;
    }
    return true;
  }
  if (i < s.piece_count && s.pieces[i].begin == end) {
    s.pieces[i].begin = begin;
    return true;
  }
  if (s.piece_count == max_pieces) return false;
  for (std::size_t j = s.piece_count; j > i; --j) s.pieces[j] = s.pieces[j - 1];
  s.pieces[i] = Piece{begin, end};
  ++s.piece_count;
  return true;
}

std::optional<Reassembler::Datagram> Reassembler::add(const Fragment& f, std::uint64_t now) {
  ++counters_.ipv4_frag_received;
  std::uint32_t begin = f.offset;
  std::uint32_t end = begin + static_cast<std::uint32_t>(f.payload.size());
  // RFC 791: every fragment but the last carries a multiple of 8 bytes;
  // like Linux, trim the excess.
  if (f.more) end = begin + ((end - begin) & ~7u);
  auto data = f.payload.first(end - begin);
  if (f.more && end == begin) {
    ++counters_.ipv4_frag_drop_bad_length;
    return std::nullopt;
  }
  Slot* s = find(f);
  // RFC 791 3.1: a total length can say no more than 65535 (ping of death).
  if (f.header.size() + end > max_size) {
    ++counters_.ipv4_frag_drop_oversized;
    if (s) drop(*s);
    return std::nullopt;
  }
  if (!s) s = &create(f, now);
  if (++s->fragments > max_fragments) {
    ++counters_.ipv4_frag_drop_limit;
    drop(*s);
    return std::nullopt;
  }
  std::uint32_t highest = s->piece_count ? s->pieces[s->piece_count - 1].end : 0;
  if (!f.more) {
    // The last fragment fixes the size; it must agree with what came.
    if ((s->have_last && end != s->total) || end < highest) {
      ++counters_.ipv4_frag_drop_inconsistent;
      drop(*s);
      return std::nullopt;
    }
    s->have_last = true;
    s->total = end;
  } else if (s->have_last && end > s->total) {
    ++counters_.ipv4_frag_drop_inconsistent;
    drop(*s);
    return std::nullopt;
  }
  if (end > begin) {
    for (std::size_t i = 0; i < s->piece_count; ++i) {
      const Piece& p = s->pieces[i];
      if (begin >= p.begin && end <= p.end) {
        ++counters_.ipv4_frag_drop_duplicate;
        return std::nullopt;
      }
      if (begin < p.end && end > p.begin) {
        ++counters_.ipv4_frag_drop_overlap;
        drop(*s);
        return std::nullopt;
      }
    }
    if (!add_piece(*s, begin, end)) {
      ++counters_.ipv4_frag_drop_limit;
      drop(*s);
      return std::nullopt;
    }
    if (!store(*s, begin, data)) {
      ++counters_.ipv4_frag_drop_limit;
      drop(*s);
      return std::nullopt;
    }
  }
  if (begin == 0 && s->first_header_size == 0) {
    std::memcpy(s->first_header.data(), f.header.data(), f.header.size());
    s->first_header_size = static_cast<std::uint8_t>(f.header.size());
  }
  s->link_broadcast |= f.link_broadcast;
  bool complete = s->have_last && s->first_header_size != 0 &&
                  (s->total == 0 || (s->piece_count == 1 && s->pieces[0].begin == 0 &&
                                     s->pieces[0].end == s->total));
  if (!complete) return std::nullopt;
  ++counters_.ipv4_frag_reassembled;
  return assemble(*s);
}

Reassembler::Datagram Reassembler::assemble(Slot& s) {
  std::size_t hs = s.first_header_size;
  std::uint8_t* out = output_.get();
  std::memcpy(out, s.first_header.data(), hs);
  store16(out + 2, static_cast<std::uint16_t>(hs + s.total));
  store16(out + 6, load16(out + 6) & 0x4000);  // keep DF; MF and offset cleared
  store16(out + 10, 0);
  store16(out + 10, internet_checksum({out, hs}));
  for (std::uint32_t pos = 0; pos < s.total; pos += chunk_size) {
    std::size_t n = std::min<std::size_t>(chunk_size, s.total - pos);
    std::memcpy(out + hs + pos, arena_.get() + (s.chunks[pos / chunk_size] - 1) * chunk_size, n);
  }
  Datagram d{{out, hs + s.total}, hs, s.link_broadcast};
  drop(s);
  return d;
}

void Reassembler::tick(std::uint64_t now, const TimeoutHandler& on_timeout) {
  for (auto& s : slots_) {
    if (!s.used || now - s.created_ms < timeout_ms_) continue;
    ++counters_.ipv4_frag_timeout;
    // RFC 1122 3.3.2 / RFC 792: Time Exceeded code 1, only when the first
    // fragment came (it is what the error quotes).
    if (s.first_header_size != 0 && on_timeout) {
      std::size_t hs = s.first_header_size;
      std::memcpy(quote_.data(), s.first_header.data(), hs);
      std::size_t data = 0;
      if (s.piece_count > 0 && s.pieces[0].begin == 0)
        data = std::min<std::size_t>(s.pieces[0].end, quote_.size() - hs);
      for (std::size_t pos = 0; pos < data; pos += chunk_size) {
        std::size_t n = std::min(chunk_size, data - pos);
        std::memcpy(quote_.data() + hs + pos,
                    arena_.get() + (s.chunks[pos / chunk_size] - 1) * chunk_size, n);
      }
      bool link_broadcast = s.link_broadcast;
      drop(s);
      on_timeout({quote_.data(), hs + data}, link_broadcast);
    } else {
      drop(s);
    }
  }
}

}  // namespace rz::net
