// ISNs and SYN cookies (see tcp_isn.hpp).
#include "net/tcp_isn.hpp"

#include <array>
#include <bit>

namespace rz::net::tcp {
namespace {

constexpr std::array<std::uint16_t, 8> cookie_mss = {536, 1024, 1220, 1360, 1400, 1440, 1460, 8960};
constexpr std::uint64_t period_ms = 64'000;

struct SipState {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  void absorb(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

std::uint64_t tuple_word(const FourTuple& t) {
  return std::uint64_t(t.local.value) << 32 | t.remote.value;
}
std::uint64_t ports_word(const FourTuple& t) {
  return std::uint64_t(t.local_port) << 16 | t.remote_port;
}

}  // namespace

std::uint64_t siphash(std::uint64_t k0, std::uint64_t k1, std::uint64_t m0, std::uint64_t m1) {
  SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
  s.absorb(m0);
  s.absorb(m1);
  s.absorb(std::uint64_t(16) << 56);  // the final block: the message length, 16 bytes
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint32_t IsnGenerator::isn(const FourTuple& t, std::uint64_t now_us) const {
  auto f = static_cast<std::uint32_t>(siphash(k0_, k1_, tuple_word(t), ports_word(t)));
  return static_cast<std::uint32_t>(now_us / 4) + f;
}

std::uint32_t IsnGenerator::cookie_hash(const FourTuple& t, std::uint32_t peer_isn, unsigned period,
                                        unsigned mss_index) const {
  std::uint64_t m1 = ports_word(t) << 32 | peer_isn;
  std::uint64_t h = siphash(k2_ ^ (std::uint64_t(period) << 8 | mss_index), k3_, tuple_word(t), m1);
  return static_cast<std::uint32_t>(h & 0xffffff);
}

std::uint32_t IsnGenerator::cookie(const FourTuple& t, std::uint32_t peer_isn, std::uint16_t mss,
                                   std::uint64_t now_ms, std::uint16_t& mss_used) const {
  unsigned index = 0;
  for (unsigned i = 0; i < cookie_mss.size(); ++i)
    if (cookie_mss[i] <= mss) index = i;
  mss_used = cookie_mss[index];
  unsigned period = static_cast<unsigned>(now_ms / period_ms) & 31;
  return std::uint32_t(period) << 27 | std::uint32_t(index) << 24 |
         cookie_hash(t, peer_isn, period, index);
}

std::optional<std::uint16_t> IsnGenerator::check_cookie(const FourTuple& t, std::uint32_t seq,
                                                        std::uint32_t ack,
                                                        std::uint64_t now_ms) const {
  std::uint32_t c = ack - 1;
  unsigned period = c >> 27;
  unsigned index = (c >> 24) & 7;
  unsigned now_period = static_cast<unsigned>(now_ms / period_ms) & 31;
  unsigned age = (now_period - period) & 31;
  if (age > 1) return std::nullopt;
  if ((c & 0xffffff) != cookie_hash(t, seq - 1, period, index)) return std::nullopt;
  return cookie_mss[index];
}

}  // namespace rz::net::tcp
