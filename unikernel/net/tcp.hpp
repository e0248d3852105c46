// TCP (RFC 9293) with RFC 6298 retransmission, RFC 5681/6582 congestion
// control (NewReno), RFC 7323 window scaling and timestamps with PAWS, RFC
// 5961 challenge ACKs, RFC 6528 ISNs and SYN cookies for a full backlog.
//
// The Tcp layer keeps a table of connections by 4-tuple and a table of
// listeners, takes segments from the IP layer (protocol 6), and runs the
// connections' timers from the stack's tick; a connection is a
// TcpConnection, shared between the layer (while the protocol needs it)
// and the application (while it holds the pointer).
//
// Callbacks run from the event loop after a segment or a timer has been
// processed, never in the middle of it, so they may call any method.
//
// What is and is not here (the conformance report says the same):
// - MSS (sent, honoured; 536 when absent), window scaling, timestamps and
//   PAWS: yes. SACK: no (SACK-permitted is never sent, SACK blocks are
//   skipped like unknown options).
// - Initial window: RFC 5681 3.1 (2 to 4 segments by the MSS), not RFC 6928.
// - Data on a SYN to a listener is not acknowledged (the peer sends it
//   again after the handshake), as Linux does; data on a SYN-ACK is taken.
// - Urgent data: the pointer is tracked (RCV.UP) and reported; the bytes
//   stay in the stream (3.8.5, "inline").
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "net/addresses.hpp"
#include "net/counters.hpp"
#include "net/ipv4.hpp"
#include "net/packet.hpp"
#include "net/stack.hpp"
#include "net/tcp_buffer.hpp"
#include "net/tcp_isn.hpp"
#include "net/tcp_segment.hpp"

namespace rz::net {

enum class TcpState : std::uint8_t {
  closed,
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
};
// "ESTABLISHED", "SYN-SENT", ... (RFC 9293's names).
const char* to_string(TcpState s);

// Why a connection ended (none: an orderly close).
enum class TcpError : std::uint8_t { none, reset, refused, timeout, aborted, unreachable };
const char* to_string(TcpError e);

class Tcp;

class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  using Ptr = std::shared_ptr<TcpConnection>;

  struct Stats {
    std::uint32_t mss = 0;  // the effective send MSS (options subtracted)
    std::uint32_t cwnd = 0, ssthresh = 0;
    std::uint32_t srtt_ms = 0, rttvar_ms = 0, rto_ms = 0;
    std::uint32_t snd_wnd = 0, rcv_wnd = 0;
    std::uint64_t retransmits = 0;  // segments sent again
    std::uint64_t timeouts = 0, fast_retransmits = 0, dupacks = 0;
    std::uint64_t segments_in = 0, segments_out = 0;
    std::uint64_t bytes_sent = 0, bytes_acked = 0, bytes_received = 0;
    std::uint64_t challenge_acks = 0, ooo_segments = 0, urgent = 0;
    bool timestamps = false;
    std::uint8_t snd_wscale = 0, rcv_wscale = 0;  // 0 and 0 also when not in use
    bool window_scaling = false;
  };

  TcpState state() const { return state_; }
  TcpError error() const { return error_; }
  const tcp::FourTuple& tuple() const { return tuple_; }

  // The handshake completed (active open).
  void on_connected(std::function<void()> f) { connected_ = std::move(f); }
  // Data (or the peer's FIN: eof()) is there to read.
  void on_readable(std::function<void()> f) { readable_ = std::move(f); }
  // Room in the send buffer again after a write() filled it (or took less
  // than it was given).
  void on_writable(std::function<void()> f) { writable_ = std::move(f); }
  // The connection is over: CLOSED, or TIME-WAIT after an orderly close
  // (TcpError::none), or reset, refused, timed out, aborted. Runs once; all
  // callbacks are dropped afterwards.
  void on_closed(std::function<void(TcpError)> f) { closed_ = std::move(f); }

  // Bytes received in order and not yet read.
  std::size_t readable() const;
  // Copies up to out.size() bytes and opens the window by as much.
  std::size_t read(std::span<std::uint8_t> out);
  // The peer has sent FIN and every byte before it has been read.
  bool eof() const;
  // Queues as much of `data` as the send buffer takes and returns how much;
  // `acked` runs once the peer has acknowledged all of it. 0 after
  // shutdown()/close() or when the connection is not open for sending.
  std::size_t write(std::span<const std::uint8_t> data, std::function<void()> acked = {});
  std::size_t write_space() const;
  // write() whose data is urgent (3.8.5): segments carry URG and an urgent
  // pointer to the octet after the last urgent one until it is acknowledged.
  std::size_t write_urgent(std::span<const std::uint8_t> data);
  // Bytes queued and not yet acknowledged.
  std::size_t unacked() const { return send_.size(); }
  // Sends FIN after the queued data (half-close, 3.6).
  void shutdown();
  // shutdown(), and the application is done: nothing is read any more, so
  // unread or later data resets the connection (3.10.4 / RFC 2525 2.17).
  void close();
  // RST now; the connection ends with TcpError::aborted.
  void abort();

  void set_nodelay(bool on) { nodelay_ = on; }
  // The IP TTL and the TOS byte (DSCP and ECN bits) of the connection's
  // segments from now on (RFC 9293 3.9.1.9 MUST-48, 3.9.2 MUST-49).
  void set_ttl(std::uint8_t ttl) { ip_.ttl = ttl; }
  void set_tos(std::uint8_t tos) { ip_.tos = tos; }
  // Keep-alives (3.8.4): after `idle_ms` without a segment from the peer,
  // probes every `interval_ms`; `count` unanswered ones end the connection.
  void set_keepalive(bool on, std::uint32_t idle_ms = 7'200'000, std::uint32_t interval_ms = 75'000,
                     std::uint32_t count = 9);
  // User timeout (3.8.3, RFC 5482): data unacknowledged for this long ends
  // the connection (0: the retransmission count decides alone).
  void set_user_timeout(std::uint32_t ms) { user_timeout_ms_ = ms; }

  Stats stats() const;

  // Constructed by Tcp only.
  TcpConnection(Tcp& tcp, const tcp::FourTuple& tuple);

 private:
  friend class Tcp;
  enum class Timer : std::uint8_t { none, retransmit, persist };

  // The sequence of RFC 9293 3.10.7.
  void segment_arrives(const tcp::Segment& seg, std::uint64_t now);
  void syn_sent_input(const tcp::Segment& seg, std::uint64_t now);
  bool acceptable(const tcp::Segment& seg) const;
  void process_ack(const tcp::Segment& seg, std::uint64_t now);
  void process_data(const tcp::Segment& seg, std::uint32_t seq, std::span<const std::uint8_t> data,
                    bool fin, std::uint64_t now);
  void process_fin(std::uint64_t now);
  void take_options(const tcp::Segment& seg);
  void open_active(std::uint64_t now);
  void open_passive(const tcp::Segment& seg, std::uint64_t now);
  void open_from_cookie(const tcp::Segment& seg, std::uint16_t mss, std::uint64_t now);
  void established(std::uint64_t now);

  // Output.
  void output(std::uint64_t now);
  bool send_data(std::uint64_t now);
  void send_syn(std::uint64_t now);
  void send_ack(std::uint64_t now);
  void challenge_ack(std::uint64_t now);
  void send_reset(std::uint64_t now);
  bool transmit(std::uint32_t seq, std::size_t len, std::uint8_t flags, std::uint64_t now);
  std::uint16_t window_to_advertise();
  void maybe_window_update(std::uint64_t now);
  std::uint32_t effective_mss() const;
  std::uint32_t flight_size() const { return snd_max_ - snd_una_; }
  bool fin_queued() const { return fin_requested_; }
  std::uint32_t fin_seq() const;  // the sequence number our FIN takes

  // Timers.
  void tick(std::uint64_t now);
  std::uint64_t next_due() const;
  void on_retransmit_timeout(std::uint64_t now);
  void on_persist_timeout(std::uint64_t now);
  void rtt_sample(std::uint32_t rtt_ms);
  void arm_retransmit(std::uint64_t now);
  void enter_time_wait(std::uint64_t now);

  // Ends the connection: CLOSED, callbacks reported, buffers freed.
  void terminate(TcpError why);
  void deliver_events();
  void complete_writes();
  void drop_callbacks();

  Tcp& tcp_;
  tcp::FourTuple tuple_;
  Ipv4SendOptions ip_;
  bool urgent_ = false;           // urgent data sent or queued and not yet acknowledged
  std::uint64_t urgent_end_ = 0;  // bytes_queued_ at the end of the urgent data
  TcpState state_ = TcpState::closed;
  TcpError error_ = TcpError::none;
  bool passive_ = false;        // from a listener (an RST in SYN-RECEIVED just drops it)
  bool in_backlog_ = false;     // counted in its listener's half_open
  bool user_closed_ = false;    // close() was called
  bool fin_requested_ = false;  // shutdown()/close(): FIN after the data
  bool fin_sent_ = false;       // our FIN has a sequence number
  bool fin_received_ = false;   // the peer's FIN, in order
  bool nodelay_ = false;
  bool ack_now_ = false;  // an ACK is owed at the end of processing
  bool closed_reported_ = false;
  std::uint16_t listener_port_ = 0;

  // Send sequence space (3.3.1).
  std::uint32_t iss_ = 0, snd_una_ = 0, snd_nxt_ = 0, snd_max_ = 0;
  std::uint32_t snd_wnd_ = 0, snd_wl1_ = 0, snd_wl2_ = 0, max_snd_wnd_ = 0;
  // Receive sequence space.
  std::uint32_t irs_ = 0, rcv_nxt_ = 0, rcv_adv_ = 0, rcv_up_ = 0;
  std::uint32_t last_ack_sent_ = 0;
  bool rcv_up_valid_ = false;

  // Options.
  std::uint16_t peer_mss_ = tcp::default_mss;
  std::uint8_t snd_wscale_ = 0, rcv_wscale_ = 0;
  bool wscale_ok_ = false, ts_ok_ = false;
  std::uint32_t ts_recent_ = 0, ts_offset_ = 0;
  std::uint64_t ts_recent_age_ = 0;

  // Buffers.
  ByteRing send_, recv_;
  OutOfOrder ooo_;
  std::uint32_t ooo_fin_offset_ = 0;  // the FIN's offset from RCV.NXT, when it came early
  bool ooo_fin_ = false;
  struct Pending {
    std::uint64_t end;  // bytes_queued_ once these bytes were queued
    std::function<void()> done;
  };
  std::deque<Pending> completions_;
  std::uint64_t bytes_queued_ = 0, bytes_acked_total_ = 0;
  bool want_writable_ = false;

  // Retransmission (RFC 6298).
  Timer timer_ = Timer::none;
  std::uint64_t timer_due_ = 0;
  std::uint32_t rto_ms_;
  std::uint32_t srtt_us_ = 0, rttvar_us_ = 0;
  bool have_rtt_ = false;
  unsigned backoff_ = 0;  // consecutive timeouts
  bool rtt_timing_ = false;
  std::uint32_t rtt_seq_ = 0;
  std::uint64_t rtt_start_ = 0;
  bool syn_retransmitted_ = false;
  std::uint64_t first_unacked_at_ = 0;  // when the oldest unacked data went out (user timeout)
  std::uint64_t last_send_ = 0;         // when data last went out (RFC 5681 4.1 idle)

  // Congestion control (RFC 5681, RFC 6582).
  std::uint32_t cwnd_ = 0, ssthresh_ = 0xffffffff;
  unsigned dupacks_ = 0;
  bool in_recovery_ = false;
  std::uint32_t recover_ = 0;
  std::uint32_t ca_acc_ = 0;  // bytes acked in congestion avoidance, toward one MSS of growth

  // Delayed ACK (RFC 1122 4.2.3.2, RFC 5681 4.2).
  std::uint64_t delack_due_ = 0;
  std::uint32_t unacked_bytes_ = 0;

  // Keep-alive, user timeout, TIME-WAIT.
  bool keepalive_ = false;
  std::uint32_t ka_idle_ms_ = 0, ka_interval_ms_ = 0, ka_count_ = 0, ka_sent_ = 0;
  std::uint64_t ka_due_ = 0;
  std::uint64_t last_heard_ = 0;
  std::uint32_t user_timeout_ms_ = 0;
  std::uint64_t time_wait_due_ = 0;
  std::uint64_t fin_wait_2_due_ = 0;  // closed by the application: the peer's FIN by then
  // SWS override (3.8.6.2.1 (d)): data held back by the sender's rules goes
  // out when this passes.
  std::uint64_t override_due_ = 0;

  // Events for deliver_events().
  bool ev_accepted_ = false, ev_connected_ = false, ev_readable_ = false, ev_writable_ = false,
       ev_closed_ = false;

  std::function<void()> connected_, readable_, writable_;
  std::function<void(TcpError)> closed_;
  Stats stats_;
};

class Tcp {
 public:
  using Accept = std::function<void(TcpConnection::Ptr)>;
  using Clock = std::function<std::uint64_t()>;

  Tcp(Ipv4& ipv4, const Config& config, Counters& counters);
  // Drops every connection's callbacks (which may hold the connection).
  ~Tcp();
  Tcp(const Tcp&) = delete;
  Tcp& operator=(const Tcp&) = delete;

  // Accepts connections on `port`: `on_accept` gets each one once its
  // handshake completes. `backlog` bounds the half-open connections; SYNs
  // beyond it get SYN cookies (or are dropped with tcp_syncookies=0). False
  // when the port is taken.
  bool listen(std::uint16_t port, Accept on_accept, std::size_t backlog = 0);
  void unlisten(std::uint16_t port);
  bool listening(std::uint16_t port) const;
  // Opens a connection (SYN now); nullptr when no local port or slot is free
  // or there is no address.
  TcpConnection::Ptr connect(Ipv4Address dst, std::uint16_t dst_port, std::uint16_t local_port = 0);

  // The protocol handler (registered for protocol 6).
  void input(const Ipv4Input& in, PacketPtr packet, std::uint64_t now);
  // An ICMP error about a segment we sent (RFC 9293 3.9.2, RFC 5927).
  void icmp_error(std::uint8_t type, std::uint8_t code, std::span<const std::uint8_t> quote,
                  std::uint64_t now);
  // Timers of every connection.
  void tick(std::uint64_t now);
  // The earliest timer of any connection (~0: none).
  std::uint64_t next_due() const;

  // The stack's clock (for methods called by the application), its random
  // numbers, and the hook run after sending (the stack arms its timer).
  void set_clock(Clock c) { clock_ = std::move(c); }
  void set_random(std::function<std::uint64_t(std::uint64_t)> f);
  void set_after_send(std::function<void()> f) { after_send_ = std::move(f); }

  std::size_t connections() const { return table_.size(); }
  void for_each_connection(const std::function<void(const TcpConnection&)>& f) const;
  const Config& config() const { return config_; }
  Counters& counters() { return counters_; }

 private:
  friend class TcpConnection;
  struct Listener {
    std::uint16_t port = 0;
    Accept accept;
    std::size_t backlog = 0;
    std::size_t half_open = 0;
  };
  static std::uint64_t key(Ipv4Address remote, std::uint16_t remote_port,
                           std::uint16_t local_port) {
    return std::uint64_t(remote.value) << 32 | std::uint32_t(remote_port) << 16 | local_port;
  }
  Listener* find_listener(std::uint16_t port);
  void listen_input(Listener& l, const Ipv4Input& in, const tcp::Segment& seg, std::uint64_t now);
  // RST for a segment that belongs to no connection (3.10.7.1).
  void reset_for(const Ipv4Input& in, const tcp::Segment& seg, std::uint64_t now);
  void send_cookie(const Ipv4Input& in, const tcp::Segment& seg, std::uint64_t now);
  // Builds and sends one segment; `len` bytes of `data` from `offset`.
  bool send_segment(const tcp::FourTuple& t, std::uint32_t seq, std::uint32_t ack,
                    std::uint8_t flags, std::uint16_t window, const tcp::Options& options,
                    const ByteRing* data, std::size_t offset, std::size_t len, std::uint64_t now,
                    Ipv4SendOptions ip = {}, std::uint16_t urgent = 0);
  void established(TcpConnection& c);  // a passive connection completed its handshake
  void accept(TcpConnection& c);       // ... and goes to its listener's callback
  void half_open_gone(TcpConnection& c);
  bool challenge_allowed(std::uint64_t now);
  // Whether the table takes one more connection; when it is full, the
  // connection closest to the end of its TIME-WAIT is ended to make room
  // (as Linux does past tcp_max_tw_buckets: a busy server that closes first
  // would otherwise refuse everyone for 2 MSL).
  bool room_for_one();
  std::uint16_t ephemeral_port(Ipv4Address dst, std::uint16_t dst_port);
  std::uint64_t now() const { return clock_ ? clock_() : last_now_; }
  void reap();
  void after_send() {
    if (after_send_) after_send_();
  }

  Ipv4& ipv4_;
  const Config& config_;
  Counters& counters_;
  std::unordered_map<std::uint64_t, TcpConnection::Ptr> table_;
  std::vector<Listener> listeners_;
  tcp::IsnGenerator isn_;
  Clock clock_;
  std::function<std::uint64_t(std::uint64_t)> random_;
  std::function<void()> after_send_;
  std::uint64_t last_now_ = 0;
  std::uint64_t challenge_second_ = 0;
  std::uint32_t challenge_count_ = 0;
  bool reaping_needed_ = false;
};

}  // namespace rz::net
