// The stack's counters: one plain uint64 per event, by layer. Every drop has
// its own reason ("layer.rx.drop.reason"); names live in one table
// (counters.cpp) that Stack::for_each_counter walks.
#pragma once
#include <cstdint>
#include <string_view>

namespace rz::net {

struct Counters {
  // Ethernet II
  std::uint64_t eth_rx_frames = 0;
  std::uint64_t eth_rx_drop_truncated = 0;
  std::uint64_t eth_rx_drop_not_for_us = 0;
  std::uint64_t eth_rx_drop_unknown_type = 0;
  std::uint64_t eth_tx_frames = 0;
  std::uint64_t eth_tx_drop_no_headroom = 0;
  std::uint64_t eth_tx_drop_device_full = 0;
  // ARP (RFC 826)
  std::uint64_t arp_rx_packets = 0;
  std::uint64_t arp_rx_requests = 0;
  std::uint64_t arp_rx_replies = 0;
  std::uint64_t arp_rx_drop_truncated = 0;
  std::uint64_t arp_rx_drop_bad_htype = 0;
  std::uint64_t arp_rx_drop_bad_ptype = 0;
  std::uint64_t arp_rx_drop_bad_hlen = 0;
  std::uint64_t arp_rx_drop_bad_plen = 0;
  std::uint64_t arp_rx_drop_bad_opcode = 0;
  std::uint64_t arp_rx_drop_bad_sender = 0;
  std::uint64_t arp_rx_drop_conflict = 0;
  std::uint64_t arp_tx_requests = 0;
  std::uint64_t arp_tx_replies = 0;
  std::uint64_t arp_tx_announcements = 0;
  std::uint64_t arp_cache_added = 0;
  std::uint64_t arp_cache_updated = 0;
  std::uint64_t arp_cache_expired = 0;
  std::uint64_t arp_cache_evicted = 0;
  std::uint64_t arp_queue_dropped = 0;
  std::uint64_t arp_resolve_failed = 0;
  std::uint64_t arp_tx_probes = 0;
  std::uint64_t arp_tx_polls = 0;  // unicast requests validating an entry in use
  std::uint64_t arp_probe_conflicts = 0;
  // IPv4 (RFC 791, RFC 1122 3.2.1)
  std::uint64_t ipv4_rx_datagrams = 0;
  std::uint64_t ipv4_rx_delivered = 0;
  std::uint64_t ipv4_rx_drop_truncated = 0;
  std::uint64_t ipv4_rx_drop_bad_version = 0;
  std::uint64_t ipv4_rx_drop_bad_ihl = 0;
  std::uint64_t ipv4_rx_drop_bad_checksum = 0;
  std::uint64_t ipv4_rx_drop_bad_length = 0;
  std::uint64_t ipv4_rx_drop_bad_source = 0;
  std::uint64_t ipv4_rx_drop_not_for_us = 0;
  std::uint64_t ipv4_rx_drop_unknown_protocol = 0;
  std::uint64_t ipv4_tx_datagrams = 0;
  std::uint64_t ipv4_tx_fragments = 0;
  std::uint64_t ipv4_tx_drop_no_route = 0;
  std::uint64_t ipv4_tx_drop_too_big = 0;
  std::uint64_t ipv4_tx_drop_no_buffer = 0;
  // IPv4 reassembly (RFC 791 3.2, RFC 815)
  std::uint64_t ipv4_frag_received = 0;
  std::uint64_t ipv4_frag_reassembled = 0;
  std::uint64_t ipv4_frag_timeout = 0;
  std::uint64_t ipv4_frag_drop_overlap = 0;
  std::uint64_t ipv4_frag_drop_duplicate = 0;
  std::uint64_t ipv4_frag_drop_oversized = 0;
  std::uint64_t ipv4_frag_drop_inconsistent = 0;
  std::uint64_t ipv4_frag_drop_bad_length = 0;
  std::uint64_t ipv4_frag_drop_limit = 0;
  // ICMP (RFC 792, RFC 1122 3.2.2)
  std::uint64_t icmp_rx_messages = 0;
  std::uint64_t icmp_rx_echo_requests = 0;
  std::uint64_t icmp_rx_echo_replies = 0;
  std::uint64_t icmp_rx_errors = 0;
  std::uint64_t icmp_rx_drop_bad_quote = 0;
  std::uint64_t icmp_rx_other = 0;
  std::uint64_t icmp_rx_drop_truncated = 0;
  std::uint64_t icmp_rx_drop_bad_checksum = 0;
  std::uint64_t icmp_rx_drop_broadcast_echo = 0;
  std::uint64_t icmp_tx_echo_replies = 0;
  std::uint64_t icmp_tx_errors = 0;
  std::uint64_t icmp_tx_ratelimited = 0;
  std::uint64_t icmp_tx_suppressed = 0;
  std::uint64_t icmp_tx_drop_no_buffer = 0;
  // UDP (RFC 768, RFC 1122 4.1)
  std::uint64_t udp_rx_datagrams = 0;
  std::uint64_t udp_rx_delivered = 0;
  std::uint64_t udp_rx_no_checksum = 0;
  std::uint64_t udp_rx_drop_truncated = 0;
  std::uint64_t udp_rx_drop_bad_length = 0;
  std::uint64_t udp_rx_drop_bad_checksum = 0;
  std::uint64_t udp_rx_drop_no_port = 0;
  std::uint64_t udp_rx_icmp_errors = 0;
  std::uint64_t udp_tx_datagrams = 0;
  std::uint64_t udp_tx_failed = 0;
  std::uint64_t udp_tx_dropped_later = 0;
  std::uint64_t udp_tx_drop_bad_address = 0;
  std::uint64_t udp_tx_drop_too_big = 0;
  std::uint64_t udp_tx_drop_no_buffer = 0;
  std::uint64_t udp_bind_failed = 0;
  // DHCP client (RFC 2131)
  std::uint64_t dhcp_tx_messages = 0;
  std::uint64_t dhcp_tx_failed = 0;
  std::uint64_t dhcp_rx_messages = 0;
  std::uint64_t dhcp_rx_drop_not_server = 0;
  std::uint64_t dhcp_rx_drop_malformed = 0;
  std::uint64_t dhcp_rx_drop_bad_options = 0;
  std::uint64_t dhcp_rx_drop_not_ours = 0;
  std::uint64_t dhcp_rx_drop_unexpected = 0;
  std::uint64_t dhcp_rx_drop_unusable = 0;
  std::uint64_t dhcp_declined = 0;
  std::uint64_t dhcp_naks = 0;
  std::uint64_t dhcp_fallbacks = 0;
  std::uint64_t dhcp_lease_expired = 0;
  // TCP (RFC 9293)
  std::uint64_t tcp_rx_segments = 0;
  std::uint64_t tcp_rx_drop_truncated = 0;
  std::uint64_t tcp_rx_drop_bad_offset = 0;
  std::uint64_t tcp_rx_drop_bad_checksum = 0;
  std::uint64_t tcp_rx_drop_bad_address = 0;
  std::uint64_t tcp_rx_bad_options = 0;
  std::uint64_t tcp_rx_no_connection = 0;
  std::uint64_t tcp_rx_drop_unacceptable = 0;
  std::uint64_t tcp_rx_drop_paws = 0;
  std::uint64_t tcp_rx_drop_bad_ack = 0;
  std::uint64_t tcp_rx_drop_no_ack = 0;
  std::uint64_t tcp_rx_drop_ooo_full = 0;
  std::uint64_t tcp_rx_out_of_order = 0;
  std::uint64_t tcp_rx_resets = 0;
  std::uint64_t tcp_rx_rst_challenged = 0;
  std::uint64_t tcp_rx_syn_challenged = 0;
  std::uint64_t tcp_rx_urgent = 0;
  std::uint64_t tcp_rx_icmp_errors = 0;
  std::uint64_t tcp_rx_icmp_soft = 0;
  std::uint64_t tcp_rx_icmp_ignored = 0;
  std::uint64_t tcp_tx_segments = 0;
  std::uint64_t tcp_tx_retransmits = 0;
  std::uint64_t tcp_tx_resets = 0;
  std::uint64_t tcp_tx_failed = 0;
  std::uint64_t tcp_tx_drop_no_buffer = 0;
  std::uint64_t tcp_active_opens = 0;
  std::uint64_t tcp_passive_opens = 0;
  std::uint64_t tcp_established = 0;
  std::uint64_t tcp_listen_drops = 0;
  std::uint64_t tcp_syncookies_sent = 0;
  std::uint64_t tcp_syncookies_ok = 0;
  std::uint64_t tcp_syncookies_failed = 0;
  std::uint64_t tcp_challenge_acks = 0;
  std::uint64_t tcp_challenge_acks_limited = 0;
  std::uint64_t tcp_fast_retransmits = 0;
  std::uint64_t tcp_timeouts = 0;
  std::uint64_t tcp_gave_up = 0;
  std::uint64_t tcp_window_probes = 0;
  std::uint64_t tcp_keepalives = 0;
  std::uint64_t tcp_delayed_acks = 0;
  std::uint64_t tcp_time_wait_reused = 0;
  std::uint64_t tcp_time_wait_evicted = 0;
  std::uint64_t tcp_fin_wait_2_timeouts =
      0;  // the peer never sent its FIN  // the oldest made room in a full table
};

struct CounterName {
  std::string_view name;
  std::uint64_t Counters::*field;
};

// Every counter with its name, in declaration order.
const CounterName* counter_names(std::size_t& count);

}  // namespace rz::net
