// TCP: the layer (demultiplexing, listeners, RSTs for no connection, SYN
// cookies, ICMP errors) and the connection's state machine, output and
// timers (see tcp.hpp). Section numbers are RFC 9293's unless named.
#include "net/tcp.hpp"

#include <algorithm>
#include <cstring>

#include "net/bytes.hpp"
#include "net/icmp.hpp"

namespace rz::net {

using namespace tcp;

const char* to_string(TcpState s) {
  switch (s) {
    case TcpState::closed:
      return "CLOSED";
    case TcpState::listen:
      return "LISTEN";
    case TcpState::syn_sent:
      return "SYN-SENT";
    case TcpState::syn_received:
      return "SYN-RECEIVED";
    case TcpState::established:
      return "ESTABLISHED";
    case TcpState::fin_wait_1:
      return "FIN-WAIT-1";
    case TcpState::fin_wait_2:
      return "FIN-WAIT-2";
    case TcpState::close_wait:
      return "CLOSE-WAIT";
    case TcpState::closing:
      return "CLOSING";
    case TcpState::last_ack:
      return "LAST-ACK";
    case TcpState::time_wait:
      return "TIME-WAIT";
  }
  return "?";
}

const char* to_string(TcpError e) {
  switch (e) {
    case TcpError::none:
      return "none";
    case TcpError::reset:
      return "reset";
    case TcpError::refused:
      return "refused";
    case TcpError::timeout:
      return "timeout";
    case TcpError::aborted:
      return "aborted";
    case TcpError::unreachable:
      return "unreachable";
  }
  return "?";
}

namespace {

constexpr std::uint64_t never = ~0ull;
constexpr std::uint32_t max_window = 0xffff;
// RFC 7323 5.5: a timestamp older than 24 days is not compared (PAWS).
constexpr std::uint64_t paws_idle_ms = 24ull * 24 * 3600 * 1000;

bool synchronized(TcpState s) {
  return s != TcpState::closed && s != TcpState::listen && s != TcpState::syn_sent &&
         s != TcpState::syn_received;
}

// RFC 5681 3.1: the initial window by the sender's MSS.
std::uint32_t initial_window(std::uint32_t mss) {
  if (mss > 2190) return 2 * mss;
  if (mss > 1095) return 3 * mss;
  return 4 * mss;
}

}  // namespace

// ---- the connection: API ------------------------------------------------------------

TcpConnection::TcpConnection(Tcp& tcp, const FourTuple& tuple)
    : tcp_(tcp),
      tuple_(tuple),
      send_(tcp.config().tcp.sndbuf),
      recv_(tcp.config().tcp.rcvbuf),
      rto_ms_(tcp.config().tcp.rto_initial_ms) {}

std::size_t TcpConnection::readable() const {
  return recv_.size();
}

bool TcpConnection::eof() const {
  return fin_received_ && recv_.size() == 0;
}

std::size_t TcpConnection::read(std::span<std::uint8_t> out) {
  std::size_t n = recv_.peek(0, out);
  recv_.consume(n);
  if (n && synchronized(state_)) {
    maybe_window_update(tcp_.now());
    tcp_.after_send();
  }
  return n;
}

std::size_t TcpConnection::write_urgent(std::span<const std::uint8_t> data) {
  if (write_space() < data.size() || data.empty()) return write(data);
  urgent_ = true;
  urgent_end_ = bytes_queued_ + data.size();
  return write(data);
}

std::size_t TcpConnection::write_space() const {
  if (fin_requested_ || error_ != TcpError::none) return 0;
  if (state_ != TcpState::established && state_ != TcpState::close_wait &&
      state_ != TcpState::syn_sent && state_ != TcpState::syn_received)
    return 0;
  return send_.space();
}

std::size_t TcpConnection::write(std::span<const std::uint8_t> data, std::function<void()> acked) {
  if (write_space() == 0) {
    want_writable_ = true;
    return 0;
  }
  std::size_t n = send_.append(data);
  // Full now: on_writable runs when there is room again.
  if (n < data.size() || send_.space() == 0) want_writable_ = true;
  bytes_queued_ += n;
  if (acked) completions_.push_back(Pending{bytes_queued_, std::move(acked)});
  if (synchronized(state_)) {
    auto self = shared_from_this();
    output(tcp_.now());
    tcp_.after_send();
  }
  return n;
}

void TcpConnection::shutdown() {
  if (fin_requested_) return;
  switch (state_) {
    case TcpState::syn_sent:
      // Nothing was sent: the connection just ends (3.10.4).
      terminate(TcpError::none);
      deliver_events();
      tcp_.reap();
      return;
    case TcpState::syn_received:
    case TcpState::established:
    case TcpState::close_wait:
      fin_requested_ = true;
      break;
    default:
      return;
  }
  if (state_ == TcpState::established) state_ = TcpState::fin_wait_1;
  if (state_ == TcpState::close_wait) state_ = TcpState::last_ack;
  // In SYN-RECEIVED the FIN waits for the handshake (established()).
  if (synchronized(state_)) {
    auto self = shared_from_this();
    output(tcp_.now());
    tcp_.after_send();
  }
}

void TcpConnection::close() {
  if (user_closed_) return;
  user_closed_ = true;
  connected_ = nullptr;
  readable_ = nullptr;
  writable_ = nullptr;
  if (recv_.size() > 0 && synchronized(state_)) {
    // Unread data is lost: tell the peer (RFC 2525 2.17, as Linux does).
    abort();
    return;
  }
  shutdown();
  // Already in FIN-WAIT-2: nobody will read what the peer sends, so do not
  // wait for its FIN forever.
  if (state_ == TcpState::fin_wait_2)
    fin_wait_2_due_ = tcp_.now() + 2ull * tcp_.config().tcp.msl_ms;
}

void TcpConnection::abort() {
  auto self = shared_from_this();
  std::uint64_t now = tcp_.now();
  if (state_ == TcpState::syn_received || synchronized(state_)) {
    if (state_ != TcpState::time_wait) send_reset(now);
  }
  if (state_ != TcpState::closed) terminate(TcpError::aborted);
  deliver_events();
  tcp_.reap();
  tcp_.after_send();
}

void TcpConnection::set_keepalive(bool on, std::uint32_t idle_ms, std::uint32_t interval_ms,
                                  std::uint32_t count) {
  keepalive_ = on;
  ka_idle_ms_ = idle_ms;
  ka_interval_ms_ = interval_ms;
  ka_count_ = count;
  ka_sent_ = 0;
  ka_due_ = on ? tcp_.now() + idle_ms : 0;
  tcp_.after_send();
}

TcpConnection::Stats TcpConnection::stats() const {
  Stats s = stats_;
  s.mss = effective_mss();
  s.cwnd = cwnd_;
  s.ssthresh = ssthresh_;
  s.srtt_ms = srtt_us_ / 1000;
  s.rttvar_ms = rttvar_us_ / 1000;
  s.rto_ms = rto_ms_;
  s.snd_wnd = snd_wnd_;
  s.rcv_wnd = rcv_adv_ - rcv_nxt_;
  s.timestamps = ts_ok_;
  s.window_scaling = wscale_ok_;
  s.snd_wscale = snd_wscale_;
  s.rcv_wscale = rcv_wscale_;
  return s;
}

// ---- opening ----------------------------------------------------------------------

void TcpConnection::open_active(std::uint64_t now) {
  const auto& cfg = tcp_.config().tcp;
  iss_ = tcp_.isn_.isn(tuple_, now * 1000);
  snd_una_ = iss_;
  snd_nxt_ = iss_;
  snd_max_ = iss_;
  recover_ = iss_;
  state_ = TcpState::syn_sent;
  // Our window scale: the smallest shift that lets the receive buffer show.
  while (rcv_wscale_ < max_wscale && (cfg.rcvbuf >> rcv_wscale_) > max_window) ++rcv_wscale_;
  ts_offset_ = static_cast<std::uint32_t>(tcp_.random_ ? tcp_.random_(0) : 0);
  ++tcp_.counters_.tcp_active_opens;
  send_syn(now);
}

void TcpConnection::take_options(const Segment& seg) {
  const auto& cfg = tcp_.config().tcp;
  if (seg.options.mss) peer_mss_ = std::max<std::uint16_t>(*seg.options.mss, 64);
  // RFC 7323 2.2: scaling only when both SYNs carry the option.
  if (cfg.window_scaling && seg.options.wscale) {
    wscale_ok_ = true;
    snd_wscale_ = std::min<std::uint8_t>(*seg.options.wscale, max_wscale);  // 2.3
  } else {
    wscale_ok_ = false;
    snd_wscale_ = 0;
    rcv_wscale_ = 0;
  }
  if (cfg.timestamps && seg.options.timestamps) {
    ts_ok_ = true;
    ts_recent_ = seg.options.ts_val;
  } else {
    ts_ok_ = false;
  }
}

void TcpConnection::open_passive(const Segment& seg, std::uint64_t now) {
  const auto& cfg = tcp_.config().tcp;
  passive_ = true;
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  rcv_adv_ = rcv_nxt_;
  iss_ = tcp_.isn_.isn(tuple_, now * 1000);
  snd_una_ = iss_;
  snd_nxt_ = iss_;
  snd_max_ = iss_;
  recover_ = iss_;
  while (rcv_wscale_ < max_wscale && (cfg.rcvbuf >> rcv_wscale_) > max_window) ++rcv_wscale_;
  take_options(seg);
  ts_recent_age_ = now;
  ts_offset_ = static_cast<std::uint32_t>(tcp_.random_ ? tcp_.random_(0) : 0);
  // The window of a SYN is never scaled (RFC 7323 2.2).
  snd_wnd_ = seg.window;
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  snd_wl2_ = iss_;
  state_ = TcpState::syn_received;
  last_heard_ = now;
  ++tcp_.counters_.tcp_passive_opens;
  send_syn(now);
}

void TcpConnection::open_from_cookie(const Segment& seg, std::uint16_t mss, std::uint64_t now) {
  passive_ = true;
  irs_ = seg.seq - 1;
  rcv_nxt_ = seg.seq;
  rcv_adv_ = rcv_nxt_;
  // The window the cookie's SYN-ACK offered (see Tcp::send_cookie).
  rcv_adv_ = rcv_nxt_ + std::min<std::uint32_t>(tcp_.config().tcp.rcvbuf, max_window);
  rcv_wscale_ = 0;
  iss_ = seg.ack - 1;
  snd_una_ = seg.ack;
  snd_nxt_ = seg.ack;
  snd_max_ = seg.ack;
  recover_ = iss_;
  peer_mss_ = mss;
  // The cookie's SYN-ACK offered neither scaling nor timestamps.
  snd_wnd_ = seg.window;
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  snd_wl2_ = seg.ack;
  last_heard_ = now;
  ++tcp_.counters_.tcp_passive_opens;
  established(now);
}

void TcpConnection::established(std::uint64_t now) {
  state_ = TcpState::established;
  ++tcp_.counters_.tcp_established;
  // RFC 5681 3.1: one segment when the SYN or SYN-ACK was lost.
  cwnd_ = syn_retransmitted_ ? effective_mss() : initial_window(effective_mss());
  // RFC 6298 5.7: a SYN that timed out means RTO 3 s once data flows,
  // unless an RTT was measured since.
  if (syn_retransmitted_ && !have_rtt_) rto_ms_ = std::max<std::uint32_t>(rto_ms_, 3000);
  if (!syn_retransmitted_ || have_rtt_) backoff_ = 0;
  timer_ = Timer::none;
  if (keepalive_) ka_due_ = now + ka_idle_ms_;
  if (passive_) {
    tcp_.established(*this);
    ev_accepted_ = true;
  } else {
    ev_connected_ = true;
  }
  if (fin_requested_) state_ = TcpState::fin_wait_1;  // shutdown() in SYN-RECEIVED
}

// ---- input: 3.10.7 ----------------------------------------------------------------

void TcpConnection::segment_arrives(const Segment& seg, std::uint64_t now) {
  ++stats_.segments_in;
  if (state_ == TcpState::syn_sent) {
    syn_sent_input(seg, now);
    return;
  }
  const auto& cfg = tcp_.config().tcp;
  auto& counters = tcp_.counters_;

  // RFC 7323 5.3 (PAWS): a segment whose timestamp is older than the last
  // one in order is a duplicate from an earlier incarnation of the sequence
  // space: ACKed and dropped (RSTs are not subject to PAWS).
  if (ts_ok_ && seg.options.timestamps && !seg.has(rst) && seq_lt(seg.options.ts_val, ts_recent_) &&
      now - ts_recent_age_ < paws_idle_ms) {
    ++counters.tcp_rx_drop_paws;
    send_ack(now);
    return;
  }

  // SYN-RECEIVED and the peer's SYN again: alone, a retransmission that
  // our SYN-ACK was lost (send it again); with an ACK, the SYN-ACK of a
  // simultaneous open (3.5, figure 8), taken as its ACK.
  if (state_ == TcpState::syn_received && seg.has(syn) && !seg.has(rst) && seg.seq == irs_) {
    if (!seg.has(ack)) {
      send_syn(now);
      return;
    }
    Segment stripped = seg;
    stripped.flags = static_cast<std::uint8_t>(stripped.flags & ~syn);
    stripped.seq = seg.seq + 1;
    segment_arrives(stripped, now);
    --stats_.segments_in;
    return;
  }

  // First: the acceptability test (3.10.7.4, the table of four cases).
  if (!acceptable(seg)) {
    ++counters.tcp_rx_drop_unacceptable;
    if (!seg.has(rst)) {
      // RFC 5961 5.2 asks the same ACK for an out-of-window segment.
      send_ack(now);
    }
    return;
  }

  // Trim to the window: bytes before RCV.NXT (a SYN at the old ISN goes
  // with them) and past the right edge (a FIN there goes too).
  std::uint32_t seq = seg.seq;
  std::span<const std::uint8_t> data = seg.payload;
  bool syn_flag = seg.has(syn);
  bool fin_flag = seg.has(fin);
  if (syn_flag && seq_lt(seq, rcv_nxt_)) {
    syn_flag = false;
    ++seq;
  }
  if (seq_lt(seq, rcv_nxt_)) {
    std::uint32_t skip = rcv_nxt_ - seq;
    if (skip >= data.size()) {
      if (skip > data.size()) fin_flag = false;  // the FIN was before RCV.NXT too
      data = {};
    } else {
      data = data.subspan(skip);
    }
    seq = rcv_nxt_;
  }
  std::uint32_t window = rcv_adv_ - rcv_nxt_;
  std::uint32_t room = window - (seq - rcv_nxt_);
  if (seq_ge(seq, rcv_adv_)) room = 0;
  if (data.size() > room) {
    data = data.first(room);
    fin_flag = false;
    ack_now_ = true;  // what did not fit is ACKed away (the window shows why)
  }
  last_heard_ = now;
  ka_sent_ = 0;
  if (keepalive_) ka_due_ = now + ka_idle_ms_;

  // Timestamps (RFC 7323 4.3): remember the peer's TSval of a segment that
  // covers the left edge of the window.
  if (ts_ok_ && seg.options.timestamps && seq_le(seg.seq, last_ack_sent_) &&
      seq_le(last_ack_sent_, seg.seq + seg.length())) {
    ts_recent_ = seg.options.ts_val;
    ts_recent_age_ = now;
  }

  // Second: RST (RFC 5961 3.2: exactly RCV.NXT resets, anywhere else in
  // the window earns a challenge ACK).
  if (seg.has(rst)) {
    if (seg.seq != rcv_nxt_) {
      ++counters.tcp_rx_rst_challenged;
      challenge_ack(now);
      return;
    }
    ++counters.tcp_rx_resets;
    if (state_ == TcpState::syn_received && passive_) {
      // Back to LISTEN: the listener simply forgets the half-open connection.
      terminate(TcpError::reset);
      return;
    }
    if (state_ == TcpState::syn_received) {
      terminate(TcpError::refused);
      return;
    }
    bool orderly = state_ == TcpState::closing || state_ == TcpState::last_ack ||
                   state_ == TcpState::time_wait;
    terminate(orderly ? TcpError::none : TcpError::reset);
    return;
  }

  // Fourth: SYN. In SYN-RECEIVED of a passive open, back to LISTEN; in a
  // synchronized state a challenge ACK (RFC 5961 4.2; 3.10.7.4 says the same).
  if (syn_flag) {
    if (state_ == TcpState::syn_received && passive_) {
      ++counters.tcp_rx_resets;
      terminate(TcpError::reset);
      return;
    }
    ++counters.tcp_rx_syn_challenged;
    challenge_ack(now);
    return;
  }

  // Fifth: ACK.
  if (!seg.has(ack)) {
    ++counters.tcp_rx_drop_no_ack;
    return;
  }
  if (state_ == TcpState::syn_received) {
    if (!seq_lt(snd_una_, seg.ack) || !seq_le(seg.ack, snd_max_)) {
      // Not for our SYN-ACK: reset the sender (3.10.7.4, fifth, SYN-RECEIVED).
      ++counters.tcp_tx_resets;
      tcp_.send_segment(tuple_, seg.ack, 0, rst, 0, Options{}, nullptr, 0, 0, now, ip_);
      return;
    }
    snd_wnd_ = std::uint32_t(seg.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    established(now);
  }
  // RFC 5961 5.2: SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT, else ACK and drop.
  if (seq_gt(seg.ack, snd_max_) || seq_lt(seg.ack, snd_una_ - max_snd_wnd_)) {
    ++counters.tcp_rx_drop_bad_ack;
    challenge_ack(now);
    return;
  }
  process_ack(seg, now);
  if (state_ == TcpState::closed) return;

  // Sixth: URG (3.8.5): the pointer, relative to the segment, points past
  // the urgent data; RCV.UP only moves forward.
  if (seg.has(urg) && (state_ == TcpState::established || state_ == TcpState::fin_wait_1 ||
                       state_ == TcpState::fin_wait_2)) {
    std::uint32_t up = seg.seq + seg.urgent;
    if (!rcv_up_valid_ || seq_gt(up, rcv_up_)) {
      rcv_up_ = up;
      rcv_up_valid_ = true;
      ++stats_.urgent;
      ++counters.tcp_rx_urgent;
    }
  }

  // Seventh and eighth: text and FIN.
  if (state_ == TcpState::established || state_ == TcpState::fin_wait_1 ||
      state_ == TcpState::fin_wait_2) {
    process_data(seg, seq, data, fin_flag, now);
  } else if (fin_flag && seq == rcv_nxt_ && data.empty()) {
    // CLOSE-WAIT, CLOSING, LAST-ACK: a retransmitted FIN; TIME-WAIT: the
    // same, and the 2 MSL start again.
    if (state_ == TcpState::time_wait) time_wait_due_ = now + 2ull * cfg.msl_ms;
    ack_now_ = true;
  } else if (!data.empty() || fin_flag) {
    // Data after the peer's FIN: ignored (3.10.7.4, seventh), but ACKed.
    ack_now_ = true;
  }
  (void)cfg;
}

bool TcpConnection::acceptable(const Segment& seg) const {
  std::uint32_t len = seg.length();
  std::uint32_t wnd = rcv_adv_ - rcv_nxt_;
  if (seq_lt(rcv_adv_, rcv_nxt_)) wnd = 0;
  if (len == 0) {
    if (wnd == 0) return seg.seq == rcv_nxt_;
    return seq_in(seg.seq, rcv_nxt_, rcv_nxt_ + wnd);
  }
  if (wnd == 0) {
    // "Special allowance" for ACKs, URGs and RSTs at RCV.NXT: the segment is
    // processed, its data trimmed to nothing (a zero-window probe).
    return seg.seq == rcv_nxt_;
  }
  return seq_in(seg.seq, rcv_nxt_, rcv_nxt_ + wnd) ||
         seq_in(seg.seq + len - 1, rcv_nxt_, rcv_nxt_ + wnd);
}

void TcpConnection::syn_sent_input(const Segment& seg, std::uint64_t now) {
  auto& counters = tcp_.counters_;
  // First: the ACK must acknowledge our SYN.
  bool ack_ok = false;
  if (seg.has(ack)) {
    if (seq_le(seg.ack, iss_) || seq_gt(seg.ack, snd_max_)) {
      ++counters.tcp_rx_drop_bad_ack;
      if (!seg.has(rst)) {
        ++counters.tcp_tx_resets;
        tcp_.send_segment(tuple_, seg.ack, 0, rst, 0, Options{}, nullptr, 0, 0, now, ip_);
      }
      return;
    }
    ack_ok = true;
  }
  // Second: RST, only with an acceptable ACK (RFC 5961 3.2 for SYN-SENT).
  if (seg.has(rst)) {
    if (ack_ok) {
      ++counters.tcp_rx_resets;
      terminate(TcpError::refused);
    }
    return;
  }
  // Fourth: SYN.
  if (!seg.has(syn)) return;
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  rcv_adv_ = rcv_nxt_;
  take_options(seg);
  ts_recent_age_ = now;
  last_heard_ = now;
  if (ack_ok) {
    snd_una_ = seg.ack;
    if (ts_ok_ && seg.options.ts_ecr != 0) {
      rtt_sample(static_cast<std::uint32_t>(now) + ts_offset_ - seg.options.ts_ecr);
    } else if (!syn_retransmitted_) {
      rtt_sample(static_cast<std::uint32_t>(now - rtt_start_));
    }
  }
  snd_wnd_ = seg.window;  // never scaled in a SYN (RFC 7323 2.2)
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  snd_wl2_ = seg.ack;
  if (seq_gt(snd_una_, iss_)) {
    established(now);
    ack_now_ = true;
    // Data or a FIN on the SYN-ACK: sixth step onwards.
    std::span<const std::uint8_t> data = seg.payload;
    std::uint32_t window = recv_.capacity();
    if (data.size() > window) data = data.first(window);
    bool fin_flag = seg.has(fin) && data.size() == seg.payload.size();
    if (!data.empty() || fin_flag) process_data(seg, seg.seq + 1, data, fin_flag, now);
  } else {
    // Simultaneous open (3.5): SYN-RECEIVED, SYN-ACK with our ISN again.
    state_ = TcpState::syn_received;
    snd_nxt_ = iss_;
    send_syn(now);
  }
}

void TcpConnection::process_ack(const Segment& seg, std::uint64_t now) {
  auto& counters = tcp_.counters_;
  std::uint32_t mss = effective_mss();
  bool window_changed = false;
  std::uint32_t acked = 0;
  if (seq_gt(seg.ack, snd_una_)) {
    acked = seg.ack - snd_una_;
    // RTT (RFC 6298 3, Karn; RFC 7323 4.1 with timestamps).
    if (ts_ok_ && seg.options.timestamps && seg.options.ts_ecr != 0) {
      rtt_sample(static_cast<std::uint32_t>(now) + ts_offset_ - seg.options.ts_ecr);
    } else if (rtt_timing_ && seq_gt(seg.ack, rtt_seq_)) {
      rtt_sample(static_cast<std::uint32_t>(now - rtt_start_));
    }
    if (rtt_timing_ && seq_gt(seg.ack, rtt_seq_)) rtt_timing_ = false;
    // Our SYN and FIN take a sequence number but no buffer space.
    std::uint32_t data_acked = acked;
    if (seq_le(snd_una_, iss_) && seq_gt(seg.ack, iss_)) --data_acked;
    if (fin_sent_ && seg.ack == fin_seq() + 1) --data_acked;
    data_acked = std::min<std::uint32_t>(data_acked, send_.size());
    send_.consume(data_acked);
    bytes_acked_total_ += data_acked;
    stats_.bytes_acked += data_acked;
    snd_una_ = seg.ack;
    if (seq_lt(snd_nxt_, snd_una_)) snd_nxt_ = snd_una_;
    backoff_ = 0;
    first_unacked_at_ = now;
    complete_writes();
    if (want_writable_ && write_space() > 0) {
      want_writable_ = false;
      ev_writable_ = true;
    }

    // Congestion control.
    if (in_recovery_) {
      if (seq_ge(seg.ack, recover_)) {
        // Full ACK (RFC 6582 3.2 step 3): deflate.
        cwnd_ = std::min(ssthresh_, std::max(flight_size(), mss) + mss);
        in_recovery_ = false;
        dupacks_ = 0;
      } else {
        // Partial ACK: retransmit the next hole, deflate by what was
        // acknowledged, add back one MSS; the timer restarts for the first.
        transmit(snd_una_, std::min<std::size_t>(mss, send_.size()), ack, now);
        ++stats_.retransmits;
        ++counters.tcp_tx_retransmits;
        cwnd_ = cwnd_ > acked ? cwnd_ - acked : 0;
        if (acked >= mss) cwnd_ += mss;
        cwnd_ = std::max(cwnd_, mss);
        arm_retransmit(now);
      }
    } else {
      dupacks_ = 0;
      if (data_acked == 0) {
        // Only our SYN or FIN: no growth.
      } else if (cwnd_ < ssthresh_) {
        cwnd_ += std::min(data_acked, mss);  // slow start (RFC 5681 3.1, eq. 2)
      } else {
        // Congestion avoidance: one MSS per cwnd of data acknowledged.
        ca_acc_ += data_acked;
        if (ca_acc_ >= cwnd_) {
          ca_acc_ -= cwnd_;
          cwnd_ += mss;
        }
      }
    }
    // RFC 6298 5.2/5.3: all acknowledged stops the timer, else restarts it.
    if (snd_una_ == snd_max_) {
      if (timer_ == Timer::retransmit) timer_ = Timer::none;
    } else if (timer_ != Timer::persist) {
      arm_retransmit(now);
    }
  }

  // Window update (3.10.7.4, fifth: SND.WL1/SND.WL2 keep old segments from
  // shrinking the window).
  if (seq_le(snd_una_, seg.ack) &&
      (seq_lt(snd_wl1_, seg.seq) || (snd_wl1_ == seg.seq && seq_le(snd_wl2_, seg.ack)))) {
    std::uint32_t wnd = std::uint32_t(seg.window) << snd_wscale_;
    window_changed = wnd != snd_wnd_;
    snd_wnd_ = wnd;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (snd_wnd_ > 0 && timer_ == Timer::persist) {
      timer_ = Timer::none;
      backoff_ = 0;
      if (snd_una_ != snd_max_) arm_retransmit(now);
    }
  }

  // Duplicate ACKs (RFC 5681 2: same ACK, no data, no SYN/FIN, same window,
  // data outstanding) and fast retransmit / fast recovery (3.2, RFC 6582).
  if (acked == 0 && seg.ack == snd_una_ && seg.payload.empty() && !seg.has(syn) && !seg.has(fin) &&
      !window_changed && snd_max_ != snd_una_) {
    ++dupacks_;
    ++stats_.dupacks;
    if (in_recovery_) {
      cwnd_ += mss;  // each further dupack: one segment has left the network
    } else if (dupacks_ == 3 && seq_gt(seg.ack - 1, recover_ - 1)) {
      ++stats_.fast_retransmits;
      ++counters.tcp_fast_retransmits;
      ssthresh_ = std::max(flight_size() / 2, 2 * mss);
      recover_ = snd_max_;
      in_recovery_ = true;
      transmit(snd_una_, std::min<std::size_t>(mss, send_.size()), ack, now);
      ++stats_.retransmits;
      ++counters.tcp_tx_retransmits;
      rtt_timing_ = false;  // Karn
      cwnd_ = ssthresh_ + 3 * mss;
      arm_retransmit(now);
    }
  }

  // Our FIN acknowledged.
  if (fin_sent_ && seq_gt(snd_una_, fin_seq())) {
    switch (state_) {
      case TcpState::fin_wait_1:
        state_ = TcpState::fin_wait_2;
        timer_ = Timer::none;
        // A closed connection (no application left to read) waits 2 MSL at
        // most for the peer's FIN, as Linux's tcp_fin_timeout: RFC 9293
        // sets no limit, and a peer that never closes would hold the slot.
        if (user_closed_) fin_wait_2_due_ = now + 2ull * tcp_.config().tcp.msl_ms;
        break;
      case TcpState::closing:
        enter_time_wait(now);
        break;
      case TcpState::last_ack:
        terminate(TcpError::none);
        return;
      default:
        break;
    }
  }
}

void TcpConnection::process_data(const Segment& seg, std::uint32_t seq,
                                 std::span<const std::uint8_t> data, bool fin_flag,
                                 std::uint64_t now) {
  auto& counters = tcp_.counters_;
  // A full-sized segment from the peer: our MSS less the options it carries.
  std::uint32_t mss =
      static_cast<std::uint32_t>(tcp_.ipv4_.mtu() - ipv4::min_header_size - min_header_size) -
      (ts_ok_ ? 12 : 0);
  (void)seg;
  if (!data.empty() || fin_flag) {
    std::size_t offset = seq - rcv_nxt_;
    if (offset == 0) {
      // In order: into the buffer, then whatever out-of-order data now joins.
      recv_.write_at(0, data);
      recv_.commit(data.size());
      rcv_nxt_ += static_cast<std::uint32_t>(data.size());
      stats_.bytes_received += data.size();
      std::size_t joined = ooo_.advance(data.size());
      bool filled = joined > 0;
      if (joined) {
        recv_.commit(joined);
        rcv_nxt_ += static_cast<std::uint32_t>(joined);
        stats_.bytes_received += joined;
      }
      if (ooo_fin_) {
        // A FIN that came early: in order once RCV.NXT reaches it.
        std::size_t advanced = data.size() + joined;
        if (advanced >= ooo_fin_offset_) {
          fin_flag = advanced == ooo_fin_offset_;
          ooo_fin_ = false;
        } else {
          ooo_fin_offset_ -= static_cast<std::uint32_t>(advanced);
        }
      }
      if (!data.empty() || joined) ev_readable_ = true;
      if (filled || !ooo_.empty()) {
        ack_now_ = true;  // RFC 5681 4.2: filling a hole is ACKed at once
      } else if (!data.empty()) {
        // RFC 5681 4.2 / RFC 1122 4.2.3.2: every second full-sized
        // segment at once, anything else within the delayed-ACK time.
        unacked_bytes_ += static_cast<std::uint32_t>(data.size());
        if (unacked_bytes_ >= 2 * mss)
          ack_now_ = true;
        else if (!delack_due_)
          delack_due_ = now + tcp_.config().tcp.delack_ms;
      }
    } else {
      // Out of order: kept where it belongs; ACKed at once (a duplicate ACK
      // tells the sender of the hole, RFC 5681 4.2 / 3.2).
      ++stats_.ooo_segments;
      ++counters.tcp_rx_out_of_order;
      if (!data.empty()) {
        if (ooo_.add(offset, offset + data.size())) {
          recv_.write_at(offset, data);
        } else {
          ++counters.tcp_rx_drop_ooo_full;
        }
      }
      if (fin_flag) {
        ooo_fin_ = true;
        ooo_fin_offset_ = static_cast<std::uint32_t>(offset + data.size());
      }
      fin_flag = false;
      ack_now_ = true;
    }
  }
  if (fin_flag) process_fin(now);
}

void TcpConnection::process_fin(std::uint64_t now) {
  fin_received_ = true;
  rcv_nxt_ += 1;
  ack_now_ = true;
  ev_readable_ = true;
  switch (state_) {
    case TcpState::syn_received:
    case TcpState::established:
      state_ = TcpState::close_wait;
      break;
    case TcpState::fin_wait_1:
      if (fin_sent_ && seq_gt(snd_una_, fin_seq()))
        enter_time_wait(now);
      else
        state_ = TcpState::closing;
      break;
    case TcpState::fin_wait_2:
      enter_time_wait(now);
      break;
    default:
      break;
  }
}

void TcpConnection::enter_time_wait(std::uint64_t now) {
  state_ = TcpState::time_wait;
  timer_ = Timer::none;
  delack_due_ = 0;
  time_wait_due_ = now + 2ull * tcp_.config().tcp.msl_ms;
  send_.release();
  if (!closed_reported_) ev_closed_ = true;
}

// ---- output ------------------------------------------------------------------------

std::uint32_t TcpConnection::effective_mss() const {
  std::uint32_t ours =
      static_cast<std::uint32_t>(tcp_.ipv4_.mtu() - ipv4::min_header_size - min_header_size);
  std::uint32_t m = std::min<std::uint32_t>(peer_mss_, ours);
  if (ts_ok_) m -= 12;  // 3.7.1: the MSS counts no options
  return std::max<std::uint32_t>(m, 16);
}

std::uint32_t TcpConnection::fin_seq() const {
  return iss_ + 1 + static_cast<std::uint32_t>(bytes_queued_);
}

std::uint16_t TcpConnection::window_to_advertise() {
  // The free space, with receiver-side SWS avoidance (3.8.6.2.2): the right
  // edge moves only by at least min(buffer / 2, MSS), and never back.
  std::uint32_t space = static_cast<std::uint32_t>(recv_.capacity() - recv_.size());
  std::uint32_t mss = static_cast<std::uint32_t>(tcp_.ipv4_.mtu() - 40);
  std::uint32_t current = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  std::uint32_t wnd = current;
  if (space > current &&
      space - current >=
          std::min<std::uint32_t>(static_cast<std::uint32_t>(recv_.capacity()) / 2, mss))
    wnd = space;
  if (space < current) wnd = current;  // never shrink (3.8.6.2.2); data past it is trimmed
  std::uint32_t field = std::min<std::uint32_t>(wnd >> rcv_wscale_, max_window);
  std::uint32_t edge = rcv_nxt_ + (field << rcv_wscale_);
  if (seq_gt(edge, rcv_adv_)) rcv_adv_ = edge;
  return static_cast<std::uint16_t>(field);
}

void TcpConnection::maybe_window_update(std::uint64_t now) {
  // After a read: tell the peer when the window opens by two segments or
  // half the buffer (3.8.6.2.2 with RFC 1122 4.2.3.3).
  std::uint32_t space = static_cast<std::uint32_t>(recv_.capacity() - recv_.size());
  std::uint32_t current = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  std::uint32_t mss = static_cast<std::uint32_t>(tcp_.ipv4_.mtu() - 40);
  if (space >= current + std::min<std::uint32_t>(2 * mss, recv_.capacity() / 2) &&
      state_ != TcpState::time_wait && !fin_received_)
    send_ack(now);
}

bool TcpConnection::transmit(std::uint32_t seq, std::size_t len, std::uint8_t flags,
                             std::uint64_t now) {
  Options o;
  if (ts_ok_) {
    o.timestamps = true;
    o.ts_val = static_cast<std::uint32_t>(now) + ts_offset_;
    o.ts_ecr = ts_recent_;
  }
  std::uint16_t wnd = window_to_advertise();
  std::size_t offset = seq - snd_una_;
  if (seq_le(snd_una_, iss_)) --offset;  // our SYN is not in the buffer (never here with data)
  // 3.8.5 (MUST-62): while urgent data is outstanding, URG and the pointer
  // to the octet after the last urgent one (from this segment's SEQ).
  std::uint16_t urgent = 0;
  if (urgent_) {
    std::uint32_t up = iss_ + 1 + static_cast<std::uint32_t>(urgent_end_);
    if (seq_le(up, snd_una_)) {
      urgent_ = false;
    } else if (seq_lt(seq, up)) {
      flags |= urg;
      urgent = static_cast<std::uint16_t>(std::min<std::uint32_t>(up - seq, 0xffff));
    }
  }
  bool ok = tcp_.send_segment(tuple_, seq, rcv_nxt_, flags, wnd, o, &send_, offset, len, now, ip_,
                              urgent);
  if (flags & ack) {
    last_ack_sent_ = rcv_nxt_;
    delack_due_ = 0;
    unacked_bytes_ = 0;
    ack_now_ = false;
  }
  ++stats_.segments_out;
  if (len) last_send_ = now;  // data: RFC 5681 4.1 counts idle from the last data sent
  return ok;
}

void TcpConnection::send_syn(std::uint64_t now) {
  const auto& cfg = tcp_.config().tcp;
  Options o;
  o.mss = static_cast<std::uint16_t>(tcp_.ipv4_.mtu() - ipv4::min_header_size - min_header_size);
  bool synack = state_ == TcpState::syn_received;
  if (cfg.window_scaling && (!synack || wscale_ok_)) o.wscale = rcv_wscale_;
  if (cfg.timestamps && (!synack || ts_ok_)) {
    o.timestamps = true;
    o.ts_val = static_cast<std::uint32_t>(now) + ts_offset_;
    o.ts_ecr = synack ? ts_recent_ : 0;
  }
  std::uint8_t flags = synack ? (syn | ack) : syn;
  // The window of a SYN is not scaled (RFC 7323 2.2).
  std::uint16_t wnd = static_cast<std::uint16_t>(
      std::min<std::size_t>(recv_.capacity() - recv_.size(), max_window));
  rcv_adv_ = rcv_nxt_ + (synack ? wnd : 0);
  if (!synack) rcv_adv_ = 0;
  tcp_.send_segment(tuple_, iss_, synack ? rcv_nxt_ : 0, flags, wnd, o, nullptr, 0, 0, now, ip_);
  if (synack) last_ack_sent_ = rcv_nxt_;
  ++stats_.segments_out;
  snd_nxt_ = iss_ + 1;
  if (seq_gt(snd_nxt_, snd_max_)) snd_max_ = snd_nxt_;
  if (!syn_retransmitted_ && backoff_ == 0) {
    rtt_start_ = now;
    rtt_seq_ = iss_;
    rtt_timing_ = true;
  }
  timer_ = Timer::retransmit;
  timer_due_ = now + rto_ms_;
  last_send_ = now;
}

void TcpConnection::send_ack(std::uint64_t now) {
  transmit(snd_nxt_, 0, ack, now);
}

void TcpConnection::challenge_ack(std::uint64_t now) {
  if (!tcp_.challenge_allowed(now)) {
    ++tcp_.counters_.tcp_challenge_acks_limited;
    return;
  }
  ++stats_.challenge_acks;
  ++tcp_.counters_.tcp_challenge_acks;
  send_ack(now);
}

void TcpConnection::send_reset(std::uint64_t now) {
  ++tcp_.counters_.tcp_tx_resets;
  // RFC 7323 3.2: with timestamps agreed, the RST carries them too.
  Options o;
  if (ts_ok_) {
    o.timestamps = true;
    o.ts_val = static_cast<std::uint32_t>(now) + ts_offset_;
    o.ts_ecr = ts_recent_;
  }
  tcp_.send_segment(tuple_, snd_nxt_, rcv_nxt_, rst | ack, 0, o, nullptr, 0, 0, now, ip_);
}

void TcpConnection::output(std::uint64_t now) {
  if (state_ == TcpState::closed || state_ == TcpState::syn_sent ||
      state_ == TcpState::syn_received || state_ == TcpState::time_wait) {
    if (ack_now_ && state_ == TcpState::time_wait) send_ack(now);
    return;
  }
  bool sent = send_data(now);
  if (!sent && ack_now_) send_ack(now);
}

bool TcpConnection::send_data(std::uint64_t now) {
  std::uint32_t mss = effective_mss();
  bool any = false;
  // RFC 5681 4.1: after an idle period longer than the RTO, restart from
  // the initial window.
  if (snd_una_ == snd_max_ && last_send_ && now - last_send_ > rto_ms_ &&
      cwnd_ > initial_window(mss))
    cwnd_ = initial_window(mss);
  for (;;) {
    std::uint32_t sent_unacked = snd_nxt_ - snd_una_;
    std::size_t queued = send_.size();
    std::size_t unsent = queued > sent_unacked ? queued - sent_unacked : 0;
    bool fin_pending = fin_requested_ && !(fin_sent_ && seq_gt(snd_nxt_, fin_seq()));
    std::uint32_t wnd = std::min(snd_wnd_, cwnd_);
    std::uint32_t in_flight = snd_nxt_ - snd_una_;
    std::uint32_t usable = wnd > in_flight ? wnd - in_flight : 0;
    std::size_t len = std::min<std::size_t>({unsent, mss, usable});
    if (unsent == 0 && !fin_pending) break;
    if (len == 0 && unsent > 0) {
      // The window is closed: the persist timer probes it (3.8.6.1).
      if (snd_wnd_ == 0 && timer_ == Timer::none) {
        timer_ = Timer::persist;
        timer_due_ = now + std::clamp<std::uint64_t>(rto_ms_, 200, tcp_.config().tcp.rto_max_ms);
      }
      break;
    }
    bool last = len == unsent;
    if (len > 0 && len < mss && !last) {
      // Sender SWS avoidance (3.8.6.2.1): a short segment only if it is
      // half the largest window seen.
      if (len < max_snd_wnd_ / 2) {
        if (!override_due_ && snd_wnd_ <= cwnd_) override_due_ = now + 200;
        break;
      }
    }
    if (len > 0 && len < mss && last && !nodelay_ && in_flight > 0 && !fin_pending) {
      // Nagle (3.7.4): a short segment waits while data is unacknowledged.
      break;
    }
    override_due_ = 0;
    std::uint8_t flags = ack;
    bool with_fin = fin_pending && last;
    if (with_fin) flags |= fin;
    if (last && len > 0) flags |= psh;
    std::uint32_t seq = snd_nxt_;
    bool retransmission = seq_lt(seq, snd_max_);
    if (!transmit(seq, len, flags, now)) break;
    any = true;
    if (len) {
      if (retransmission) {
        ++stats_.retransmits;
        ++tcp_.counters_.tcp_tx_retransmits;
      } else {
        stats_.bytes_sent += len;
      }
      if (!rtt_timing_ && !retransmission) {
        rtt_timing_ = true;
        rtt_seq_ = seq;
        rtt_start_ = now;
      }
    }
    if (snd_una_ == snd_max_) first_unacked_at_ = now;
    snd_nxt_ += static_cast<std::uint32_t>(len);
    if (with_fin) {
      fin_sent_ = true;
      snd_nxt_ += 1;
    }
    if (seq_gt(snd_nxt_, snd_max_)) snd_max_ = snd_nxt_;
    if (timer_ != Timer::retransmit) arm_retransmit(now);
    if (with_fin) break;
  }
  return any;
}

// ---- timers ------------------------------------------------------------------------

void TcpConnection::arm_retransmit(std::uint64_t now) {
  timer_ = Timer::retransmit;
  timer_due_ = now + rto_ms_;
  // The user timeout ends the connection on time, not at the next RTO.
  if (user_timeout_ms_ && snd_una_ != snd_max_)
    timer_due_ = std::min(timer_due_, first_unacked_at_ + user_timeout_ms_);
}

void TcpConnection::rtt_sample(std::uint32_t rtt_ms) {
  // RFC 6298 2.2/2.3 in microseconds; G = 1 ms.
  const auto& cfg = tcp_.config().tcp;
  std::uint32_t r = std::min<std::uint32_t>(rtt_ms, 600'000) * 1000;
  if (!have_rtt_) {
    srtt_us_ = r;
    rttvar_us_ = r / 2;
    have_rtt_ = true;
  } else {
    std::uint32_t diff = srtt_us_ > r ? srtt_us_ - r : r - srtt_us_;
    rttvar_us_ = rttvar_us_ - rttvar_us_ / 4 + diff / 4;
    srtt_us_ = srtt_us_ - srtt_us_ / 8 + r / 8;
  }
  std::uint32_t rto = (srtt_us_ + std::max<std::uint32_t>(1000, 4 * rttvar_us_)) / 1000;
  rto_ms_ = std::clamp(rto, cfg.rto_min_ms, cfg.rto_max_ms);
  backoff_ = 0;
}

void TcpConnection::on_retransmit_timeout(std::uint64_t now) {
  const auto& cfg = tcp_.config().tcp;
  auto& counters = tcp_.counters_;
  ++stats_.timeouts;
  ++counters.tcp_timeouts;
  ++backoff_;
  bool syn_state = state_ == TcpState::syn_sent || state_ == TcpState::syn_received;
  unsigned limit = syn_state ? cfg.syn_retries : cfg.retries;
  bool user_timeout = user_timeout_ms_ && now - first_unacked_at_ >= user_timeout_ms_;
  if (backoff_ > limit || user_timeout) {
    ++counters.tcp_gave_up;
    if (synchronized(state_)) send_reset(now);
    terminate(TcpError::timeout);
    return;
  }
  // RFC 6298 5.5: back off.
  rto_ms_ = std::min<std::uint32_t>(rto_ms_ * 2, cfg.rto_max_ms);
  rtt_timing_ = false;  // Karn
  if (syn_state) {
    syn_retransmitted_ = true;
    ++stats_.retransmits;
    ++counters.tcp_tx_retransmits;
    send_syn(now);
    return;
  }
  // RFC 5681 3.1 eq. 4 and RFC 6582 3.2 step 4: one segment, from SND.UNA.
  std::uint32_t mss = effective_mss();
  ssthresh_ = std::max(flight_size() / 2, 2 * mss);
  cwnd_ = mss;
  ca_acc_ = 0;
  in_recovery_ = false;
  dupacks_ = 0;
  recover_ = snd_max_;
  if (snd_wnd_ == 0 && send_.size() > 0) {
    // A closed window: probe instead (the data in flight beyond it waits).
    timer_ = Timer::persist;
    on_persist_timeout(now);
    return;
  }
  snd_nxt_ = snd_una_;  // go back: send_data() resends from here (a sent FIN too)
  timer_ = Timer::none;
  send_data(now);
  arm_retransmit(now);
}

void TcpConnection::on_persist_timeout(std::uint64_t now) {
  const auto& cfg = tcp_.config().tcp;
  // A window probe: one byte of new data (3.8.6.1, MUST-36), or the byte
  // already sent beyond the closed window.
  if (user_timeout_ms_ && now - first_unacked_at_ >= user_timeout_ms_ && snd_una_ != snd_max_) {
    ++tcp_.counters_.tcp_gave_up;
    send_reset(now);
    terminate(TcpError::timeout);
    return;
  }
  ++tcp_.counters_.tcp_window_probes;
  if (send_.size() > 0) {
    bool fresh = snd_una_ == snd_max_;
    transmit(snd_una_, 1, ack, now);
    if (fresh) {
      if (snd_una_ == snd_max_) first_unacked_at_ = now;
      snd_nxt_ = snd_una_ + 1;
      snd_max_ = snd_nxt_;
      stats_.bytes_sent += 1;
    } else {
      snd_nxt_ = snd_una_ + 1;
    }
  } else {
    send_ack(now);
  }
  // The next probe: the RTO doubled for every probe so far (3.8.6.1).
  if (backoff_ < 16) ++backoff_;
  std::uint32_t interval = std::min<std::uint32_t>(
      std::max<std::uint32_t>(rto_ms_, 200) << std::min(backoff_, 10u), cfg.rto_max_ms);
  timer_ = Timer::persist;
  timer_due_ = now + interval;
}

void TcpConnection::tick(std::uint64_t now) {
  if (state_ == TcpState::closed) return;
  if (state_ == TcpState::time_wait) {
    if (now >= time_wait_due_) terminate(TcpError::none);
    return;
  }
  if (state_ == TcpState::fin_wait_2 && fin_wait_2_due_ && now >= fin_wait_2_due_) {
    ++tcp_.counters_.tcp_fin_wait_2_timeouts;
    send_reset(now);
    terminate(TcpError::timeout);
    return;
  }
  if (timer_ != Timer::none && now >= timer_due_) {
    Timer t = timer_;
    timer_ = Timer::none;
    if (t == Timer::retransmit)
      on_retransmit_timeout(now);
    else
      on_persist_timeout(now);
    if (state_ == TcpState::closed) return;
  }
  if (delack_due_ && now >= delack_due_) {
    delack_due_ = 0;
    ++tcp_.counters_.tcp_delayed_acks;
    send_ack(now);
  }
  if (override_due_ && now >= override_due_) {
    // SWS override: send what is held back (3.8.6.2.1 (d)).
    override_due_ = 0;
    bool nd = nodelay_;
    nodelay_ = true;
    std::uint32_t saved = max_snd_wnd_;
    max_snd_wnd_ = 0;
    send_data(now);
    max_snd_wnd_ = saved;
    nodelay_ = nd;
  }
  if (keepalive_ && synchronized(state_) && ka_due_ && now >= ka_due_) {
    if (ka_sent_ >= ka_count_) {
      ++tcp_.counters_.tcp_gave_up;
      send_reset(now);
      terminate(TcpError::timeout);
      return;
    }
    // 3.8.4: SEG.SEQ = SND.NXT - 1 with no data makes the peer ACK.
    ++ka_sent_;
    ++tcp_.counters_.tcp_keepalives;
    transmit(snd_una_ - 1, 0, ack, now);
    ka_due_ = now + ka_interval_ms_;
  }
}

std::uint64_t TcpConnection::next_due() const {
  if (state_ == TcpState::closed) return never;
  if (state_ == TcpState::time_wait) return time_wait_due_;
  std::uint64_t due = never;
  if (timer_ != Timer::none) due = std::min(due, timer_due_);
  if (delack_due_) due = std::min(due, delack_due_);
  if (override_due_) due = std::min(due, override_due_);
  if (keepalive_ && ka_due_ && synchronized(state_)) due = std::min(due, ka_due_);
  if (state_ == TcpState::fin_wait_2 && fin_wait_2_due_) due = std::min(due, fin_wait_2_due_);
  return due;
}

// ---- the end, and events --------------------------------------------------------------

void TcpConnection::terminate(TcpError why) {
  if (state_ == TcpState::syn_received && passive_) tcp_.half_open_gone(*this);
  if (error_ == TcpError::none) error_ = why;
  state_ = TcpState::closed;
  timer_ = Timer::none;
  delack_due_ = 0;
  override_due_ = 0;
  ka_due_ = 0;
  send_.release();
  // 3.10.7.4: a reset flushes the segment queues (what was not read is
  // lost, and the application is told "reset"); an orderly end keeps
  // what is left to read.
  if (user_closed_ || why != TcpError::none) recv_.release();
  ooo_.clear();
  completions_.clear();
  if (!closed_reported_) ev_closed_ = true;
  tcp_.reaping_needed_ = true;
}

void TcpConnection::complete_writes() {
  while (!completions_.empty() && completions_.front().end <= bytes_acked_total_) {
    auto done = std::move(completions_.front().done);
    completions_.pop_front();
    if (done) done();
  }
}

void TcpConnection::deliver_events() {
  auto self = shared_from_this();
  if (ev_accepted_) {
    ev_accepted_ = false;
    tcp_.accept(*this);
  }
  if (ev_connected_) {
    ev_connected_ = false;
    if (connected_) connected_();
  }
  if (ev_readable_) {
    ev_readable_ = false;
    if (readable_ && !user_closed_) readable_();
  }
  if (ev_writable_) {
    ev_writable_ = false;
    if (writable_ && !user_closed_) writable_();
  }
  if (user_closed_ && recv_.size() > 0 && synchronized(state_) && state_ != TcpState::time_wait) {
    // Data for an application that has closed: RST (see close()).
    recv_.consume(recv_.size());
    abort();
    return;
  }
  if (ev_closed_ && !closed_reported_) {
    ev_closed_ = false;
    closed_reported_ = true;
    auto f = std::move(closed_);
    closed_ = nullptr;
    connected_ = nullptr;
    readable_ = nullptr;
    writable_ = nullptr;
    if (f) f(error_);
  }
}

// ---- the layer ------------------------------------------------------------------------

Tcp::Tcp(Ipv4& ipv4, const Config& config, Counters& counters)
    : ipv4_(ipv4), config_(config), counters_(counters), isn_(0, 0, 0, 0) {}

Tcp::~Tcp() {
  for (auto& [k, c] : table_) c->drop_callbacks();
}

void TcpConnection::drop_callbacks() {
  connected_ = nullptr;
  readable_ = nullptr;
  writable_ = nullptr;
  closed_ = nullptr;
  completions_.clear();
}

void Tcp::set_random(std::function<std::uint64_t(std::uint64_t)> f) {
  random_ = std::move(f);
  if (random_) isn_ = IsnGenerator(random_(0), random_(0), random_(0), random_(0));
}

Tcp::Listener* Tcp::find_listener(std::uint16_t port) {
  for (auto& l : listeners_)
    if (l.port == port) return &l;
  return nullptr;
}

bool Tcp::listen(std::uint16_t port, Accept on_accept, std::size_t backlog) {
  if (port == 0 || find_listener(port)) return false;
  Listener l;
  l.port = port;
  l.accept = std::move(on_accept);
  l.backlog = backlog ? backlog : config_.tcp.syn_backlog;
  listeners_.push_back(std::move(l));
  return true;
}

void Tcp::unlisten(std::uint16_t port) {
  std::erase_if(listeners_, [&](const Listener& l) { return l.port == port; });
}

bool Tcp::listening(std::uint16_t port) const {
  return std::any_of(listeners_.begin(), listeners_.end(),
                     [&](const Listener& l) { return l.port == port; });
}

std::uint16_t Tcp::ephemeral_port(Ipv4Address dst, std::uint16_t dst_port) {
  // RFC 6056 3.3.1: a random start in the dynamic range, then the next free.
  constexpr unsigned first = 49152, range = 65536 - first;
  unsigned offset = random_ ? static_cast<unsigned>(random_(range)) : 0;
  for (unsigned i = 0; i < range; ++i) {
    auto port = static_cast<std::uint16_t>(first + (offset + i) % range);
    if (!table_.count(key(dst, dst_port, port)) && !find_listener(port)) return port;
  }
  return 0;
}

TcpConnection::Ptr Tcp::connect(Ipv4Address dst, std::uint16_t dst_port, std::uint16_t local_port) {
  std::uint64_t t = now();
  // RFC 1122 4.2.3.10 (MUST-57): no connection to a broadcast or multicast address.
  if (ipv4_.source_address() == Ipv4Address::any() || dst_port == 0 ||
      !ipv4_.is_unicast_host(dst) || !room_for_one())
    return nullptr;
  if (local_port == 0) local_port = ephemeral_port(dst, dst_port);
  if (local_port == 0 || table_.count(key(dst, dst_port, local_port))) return nullptr;
  FourTuple tuple{ipv4_.source_address(), local_port, dst, dst_port};
  auto c = std::make_shared<TcpConnection>(*this, tuple);
  table_[key(dst, dst_port, local_port)] = c;
  c->open_active(t);
  after_send();
  return c;
}

void Tcp::input(const Ipv4Input& in, PacketPtr packet, std::uint64_t now) {
  (void)packet;  // the bytes are in.payload, valid during this call
  last_now_ = now;
  ++counters_.tcp_rx_segments;
  Segment::Error why{};
  auto seg = Segment::parse(in.payload, in.header.src, in.header.dst, why);
  if (!seg) {
    switch (why) {
      case Segment::Error::truncated:
        ++counters_.tcp_rx_drop_truncated;
        break;
      case Segment::Error::bad_offset:
        ++counters_.tcp_rx_drop_bad_offset;
        break;
      case Segment::Error::bad_checksum:
        ++counters_.tcp_rx_drop_bad_checksum;
        break;
    }
    return;
  }
  if (seg->options.malformed) ++counters_.tcp_rx_bad_options;
  // RFC 1122 4.2.3.10: nothing to or from a broadcast or multicast address.
  if (in.ip_broadcast || in.link_broadcast || !ipv4_.is_unicast_host(in.header.src) ||
      seg->src_port == 0 || seg->dst_port == 0) {
    ++counters_.tcp_rx_drop_bad_address;
    return;
  }
  auto it = table_.find(key(in.header.src, seg->src_port, seg->dst_port));
  if (it != table_.end() && it->second->state_ == TcpState::time_wait && seg->has(syn) &&
      !seg->has(ack) && !seg->has(rst) && find_listener(seg->dst_port)) {
    // A new incarnation while the old one waits (RFC 9293 3.6.1, RFC 6191):
    // accepted when its sequence number (or timestamp) is past the old one's.
    auto& old = *it->second;
    bool newer = seq_gt(seg->seq, old.rcv_nxt_) || (old.ts_ok_ && seg->options.timestamps &&
                                                    seq_gt(seg->options.ts_val, old.ts_recent_));
    if (newer) {
      ++counters_.tcp_time_wait_reused;
      old.terminate(TcpError::none);
      old.deliver_events();
      table_.erase(it);
      it = table_.end();
    }
  }
  if (it != table_.end() && config_.tcp.syncookies) {
    // A full backlog answered a SYN with a cookie; a retransmission of that
    // SYN then found room and made a half-open connection with its own ISS.
    // The peer's ACK of the cookie is not acceptable to that connection,
    // which would reset it (3.10.7.4). A valid cookie wins instead, as on
    // Linux: the half-open connection goes and the listener takes the ACK.
    auto& old = *it->second;
    if (old.state_ == TcpState::syn_received && old.passive_ && seg->has(ack) && !seg->has(syn) &&
        !seg->has(rst) && seg->ack != old.iss_ + 1 &&
        isn_.check_cookie({in.header.dst, seg->dst_port, in.header.src, seg->src_port}, seg->seq,
                          seg->ack, now)) {
      old.terminate(TcpError::none);
      old.deliver_events();
      table_.erase(it);
      it = table_.end();
    }
  }
  if (it != table_.end()) {
    auto c = it->second;
    c->segment_arrives(*seg, now);
    c->output(now);
    c->deliver_events();
  } else if (Listener* l = find_listener(seg->dst_port)) {
    listen_input(*l, in, *seg, now);
  } else {
    ++counters_.tcp_rx_no_connection;
    reset_for(in, *seg, now);
  }
  reap();
}

void Tcp::listen_input(Listener& l, const Ipv4Input& in, const Segment& seg, std::uint64_t now) {
  // 3.10.7.2.
  if (seg.has(rst)) return;
  FourTuple tuple{in.header.dst, seg.dst_port, in.header.src, seg.src_port};
  if (seg.has(ack)) {
    if (config_.tcp.syncookies && !seg.has(syn)) {
      if (auto mss = isn_.check_cookie(tuple, seg.seq, seg.ack, now)) {
        if (room_for_one()) {
          ++counters_.tcp_syncookies_ok;
          auto c = std::make_shared<TcpConnection>(*this, tuple);
          c->listener_port_ = l.port;
          table_[key(tuple.remote, tuple.remote_port, tuple.local_port)] = c;
          c->open_from_cookie(seg, *mss, now);
          // The ACK may carry data: process it like any segment now.
          if (!seg.payload.empty() || seg.has(fin)) c->segment_arrives(seg, now);
          c->output(now);
          c->deliver_events();
          return;
        }
      } else {
        ++counters_.tcp_syncookies_failed;
      }
    }
    reset_for(in, seg, now);
    return;
  }
  if (!seg.has(syn)) return;
  if (l.half_open >= l.backlog || !room_for_one()) {
    if (config_.tcp.syncookies) {
      send_cookie(in, seg, now);
    } else {
      ++counters_.tcp_listen_drops;
    }
    return;
  }
  auto c = std::make_shared<TcpConnection>(*this, tuple);
  c->listener_port_ = l.port;
  ++l.half_open;
  c->in_backlog_ = true;
  table_[key(tuple.remote, tuple.remote_port, tuple.local_port)] = c;
  c->open_passive(seg, now);
}

void Tcp::send_cookie(const Ipv4Input& in, const Segment& seg, std::uint64_t now) {
  FourTuple tuple{in.header.dst, seg.dst_port, in.header.src, seg.src_port};
  std::uint16_t mss = 0;
  std::uint32_t cookie =
      isn_.cookie(tuple, seg.seq, seg.options.mss.value_or(default_mss), now, mss);
  Options o;
  o.mss = mss;
  ++counters_.tcp_syncookies_sent;
  auto window = static_cast<std::uint16_t>(std::min<std::uint32_t>(config_.tcp.rcvbuf, max_window));
  send_segment(tuple, cookie, seg.seq + 1, syn | ack, window, o, nullptr, 0, 0, now);
}

void Tcp::reset_for(const Ipv4Input& in, const Segment& seg, std::uint64_t now) {
  // 3.10.7.1: an RST is never answered; otherwise <SEQ=SEG.ACK><CTL=RST>
  // for an ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  if (seg.has(rst)) return;
  FourTuple tuple{in.header.dst, seg.dst_port, in.header.src, seg.src_port};
  ++counters_.tcp_tx_resets;
  if (seg.has(ack))
    send_segment(tuple, seg.ack, 0, rst, 0, Options{}, nullptr, 0, 0, now);
  else
    send_segment(tuple, 0, seg.seq + seg.length(), rst | ack, 0, Options{}, nullptr, 0, 0, now);
}

bool Tcp::send_segment(const FourTuple& t, std::uint32_t seq, std::uint32_t ack_no,
                       std::uint8_t flags, std::uint16_t window, const Options& options,
                       const ByteRing* data, std::size_t offset, std::size_t len, std::uint64_t now,
                       Ipv4SendOptions ip, std::uint16_t urgent) {
  PacketPtr p = ipv4_.pool().alloc();
  if (!p || !p->resize(max_header_size)) {
    ++counters_.tcp_tx_drop_no_buffer;
    return false;
  }
  std::size_t header =
      emit_header(p->bytes(), t.local_port, t.remote_port, seq, ack_no, flags, window, options);
  if (!data) len = 0;
  if (!p->resize(header + len)) {
    ++counters_.tcp_tx_drop_no_buffer;
    return false;
  }
  if (len) data->peek(offset, {p->data() + header, len});
  store16(p->data() + 18, urgent);
  store16(p->data() + 16, checksum(p->bytes(), t.local, t.remote));
  SendResult r = ipv4_.send(t.local, t.remote, ipv4::proto_tcp, std::move(p), now, ip);
  if (!ok(r)) {
    ++counters_.tcp_tx_failed;
    return false;
  }
  ++counters_.tcp_tx_segments;
  return true;
}

void Tcp::established(TcpConnection& c) {
  half_open_gone(c);
}

void Tcp::accept(TcpConnection& c) {
  Listener* l = find_listener(c.listener_port_);
  if (!l || !l->accept) {
    // The listener went away during the handshake.
    c.abort();
    return;
  }
  l->accept(c.shared_from_this());
}

void Tcp::half_open_gone(TcpConnection& c) {
  // Only a connection counted in the backlog leaves it: one opened from a
  // SYN cookie never was, and taking it off would let every cookie
  // connection admit one more half-open entry (a flood then fills the table).
  if (!c.in_backlog_) return;
  c.in_backlog_ = false;
  Listener* l = find_listener(c.listener_port_);
  if (l && l->half_open) --l->half_open;
}

bool Tcp::challenge_allowed(std::uint64_t now) {
  std::uint64_t second = now / 1000;
  if (second != challenge_second_) {
    challenge_second_ = second;
    challenge_count_ = 0;
  }
  return challenge_count_++ < config_.tcp.challenge_ack_limit;
}

void Tcp::icmp_error(std::uint8_t type, std::uint8_t code, std::span<const std::uint8_t> quote,
                     std::uint64_t now) {
  // The quote: our IP header and at least 8 bytes of TCP header (checked by
  // the ICMP layer).
  ++counters_.tcp_rx_icmp_errors;
  std::size_t ihl = std::size_t(quote[0] & 0x0f) * 4;
  Ipv4Address dst{load32(quote.data() + 16)};
  std::uint16_t src_port = load16(quote.data() + ihl);
  std::uint16_t dst_port = load16(quote.data() + ihl + 2);
  std::uint32_t seq = load32(quote.data() + ihl + 4);
  auto it = table_.find(key(dst, dst_port, src_port));
  if (it == table_.end()) return;
  auto c = it->second;
  // RFC 5927 4.1: only about data in flight.
  if (!seq_le(c->snd_una_, seq) ||
      !seq_lt(seq, c->snd_max_ == c->snd_una_ ? c->snd_una_ + 1 : c->snd_max_)) {
    ++counters_.tcp_rx_icmp_ignored;
    return;
  }
  // 3.9.2 / RFC 1122 4.2.3.9: protocol and port unreachable are hard
  // errors; they end a connection still opening (RFC 5461: not one that is
  // established). Everything else is soft (source quench: RFC 6633 ignore).
  bool hard =
      type == icmp::type_dest_unreachable && (code == 2 || code == icmp::code_port_unreachable);
  if (hard && (c->state_ == TcpState::syn_sent || c->state_ == TcpState::syn_received)) {
    c->terminate(TcpError::unreachable);
    c->deliver_events();
    reap();
  } else {
    ++counters_.tcp_rx_icmp_soft;
  }
  (void)now;
}

void Tcp::tick(std::uint64_t now) {
  last_now_ = now;
  // Timers may end connections: iterate over a copy of the pointers.
  std::vector<TcpConnection::Ptr> due;
  for (auto& [k, c] : table_)
    if (c->next_due() <= now) due.push_back(c);
  for (auto& c : due) {
    c->tick(now);
    if (c->state_ != TcpState::closed) c->output(now);
    c->deliver_events();
  }
  reap();
}

std::uint64_t Tcp::next_due() const {
  std::uint64_t due = never;
  for (auto& [k, c] : table_) due = std::min(due, c->next_due());
  return due;
}

bool Tcp::room_for_one() {
  if (table_.size() < config_.tcp.max_connections) return true;
  auto oldest = table_.end();
  for (auto it = table_.begin(); it != table_.end(); ++it) {
    if (it->second->state_ != TcpState::time_wait) continue;
    if (oldest == table_.end() || it->second->time_wait_due_ < oldest->second->time_wait_due_)
      oldest = it;
  }
  if (oldest == table_.end()) return false;
  ++counters_.tcp_time_wait_evicted;
  oldest->second->terminate(TcpError::none);
  oldest->second->deliver_events();
  table_.erase(oldest);
  return true;
}

void Tcp::reap() {
  if (!reaping_needed_) return;
  reaping_needed_ = false;
  std::erase_if(table_, [](const auto& kv) { return kv.second->state_ == TcpState::closed; });
}

void Tcp::for_each_connection(const std::function<void(const TcpConnection&)>& f) const {
  for (auto& [k, c] : table_) f(*c);
}

}  // namespace rz::net
