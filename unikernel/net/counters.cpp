// The names of the counters (see counters.hpp).
#include "net/counters.hpp"

#include <iterator>

namespace rz::net {
namespace {

constexpr CounterName names[] = {
    {"eth.rx.frames", &Counters::eth_rx_frames},
    {"eth.rx.drop.truncated", &Counters::eth_rx_drop_truncated},
    {"eth.rx.drop.not_for_us", &Counters::eth_rx_drop_not_for_us},
    {"eth.rx.drop.unknown_type", &Counters::eth_rx_drop_unknown_type},
    {"eth.tx.frames", &Counters::eth_tx_frames},
    {"eth.tx.drop.no_headroom", &Counters::eth_tx_drop_no_headroom},
    {"eth.tx.drop.device_full", &Counters::eth_tx_drop_device_full},
    {"arp.rx.packets", &Counters::arp_rx_packets},
    {"arp.rx.requests", &Counters::arp_rx_requests},
    {"arp.rx.replies", &Counters::arp_rx_replies},
    {"arp.rx.drop.truncated", &Counters::arp_rx_drop_truncated},
    {"arp.rx.drop.bad_htype", &Counters::arp_rx_drop_bad_htype},
    {"arp.rx.drop.bad_ptype", &Counters::arp_rx_drop_bad_ptype},
    {"arp.rx.drop.bad_hlen", &Counters::arp_rx_drop_bad_hlen},
    {"arp.rx.drop.bad_plen", &Counters::arp_rx_drop_bad_plen},
    {"arp.rx.drop.bad_opcode", &Counters::arp_rx_drop_bad_opcode},
    {"arp.rx.drop.bad_sender", &Counters::arp_rx_drop_bad_sender},
    {"arp.rx.drop.conflict", &Counters::arp_rx_drop_conflict},
    {"arp.tx.requests", &Counters::arp_tx_requests},
    {"arp.tx.replies", &Counters::arp_tx_replies},
    {"arp.tx.announcements", &Counters::arp_tx_announcements},
    {"arp.cache.added", &Counters::arp_cache_added},
    {"arp.cache.updated", &Counters::arp_cache_updated},
    {"arp.cache.expired", &Counters::arp_cache_expired},
    {"arp.cache.evicted", &Counters::arp_cache_evicted},
    {"arp.queue.dropped", &Counters::arp_queue_dropped},
    {"arp.resolve.failed", &Counters::arp_resolve_failed},
    {"ipv4.rx.datagrams", &Counters::ipv4_rx_datagrams},
    {"ipv4.rx.delivered", &Counters::ipv4_rx_delivered},
    {"ipv4.rx.drop.truncated", &Counters::ipv4_rx_drop_truncated},
    {"ipv4.rx.drop.bad_version", &Counters::ipv4_rx_drop_bad_version},
    {"ipv4.rx.drop.bad_ihl", &Counters::ipv4_rx_drop_bad_ihl},
    {"ipv4.rx.drop.bad_checksum", &Counters::ipv4_rx_drop_bad_checksum},
    {"ipv4.rx.drop.bad_length", &Counters::ipv4_rx_drop_bad_length},
    {"ipv4.rx.drop.bad_source", &Counters::ipv4_rx_drop_bad_source},
    {"ipv4.rx.drop.not_for_us", &Counters::ipv4_rx_drop_not_for_us},
    {"ipv4.rx.drop.unknown_protocol", &Counters::ipv4_rx_drop_unknown_protocol},
    {"ipv4.tx.datagrams", &Counters::ipv4_tx_datagrams},
    {"ipv4.tx.fragments", &Counters::ipv4_tx_fragments},
    {"ipv4.tx.drop.no_route", &Counters::ipv4_tx_drop_no_route},
    {"ipv4.tx.drop.too_big", &Counters::ipv4_tx_drop_too_big},
    {"ipv4.tx.drop.no_buffer", &Counters::ipv4_tx_drop_no_buffer},
    {"ipv4.frag.received", &Counters::ipv4_frag_received},
    {"ipv4.frag.reassembled", &Counters::ipv4_frag_reassembled},
    {"ipv4.frag.timeout", &Counters::ipv4_frag_timeout},
    {"ipv4.frag.drop.overlap", &Counters::ipv4_frag_drop_overlap},
    {"ipv4.frag.drop.duplicate", &Counters::ipv4_frag_drop_duplicate},
    {"ipv4.frag.drop.oversized", &Counters::ipv4_frag_drop_oversized},
    {"ipv4.frag.drop.inconsistent", &Counters::ipv4_frag_drop_inconsistent},
    {"ipv4.frag.drop.bad_length", &Counters::ipv4_frag_drop_bad_length},
    {"ipv4.frag.drop.limit", &Counters::ipv4_frag_drop_limit},
    {"icmp.rx.messages", &Counters::icmp_rx_messages},
    {"icmp.rx.echo_requests", &Counters::icmp_rx_echo_requests},
    {"icmp.rx.echo_replies", &Counters::icmp_rx_echo_replies},
    {"icmp.rx.errors", &Counters::icmp_rx_errors},
    {"icmp.rx.other", &Counters::icmp_rx_other},
    {"icmp.rx.drop.truncated", &Counters::icmp_rx_drop_truncated},
    {"icmp.rx.drop.bad_checksum", &Counters::icmp_rx_drop_bad_checksum},
    {"icmp.rx.drop.broadcast_echo", &Counters::icmp_rx_drop_broadcast_echo},
    {"icmp.tx.echo_replies", &Counters::icmp_tx_echo_replies},
    {"icmp.tx.errors", &Counters::icmp_tx_errors},
    {"icmp.tx.ratelimited", &Counters::icmp_tx_ratelimited},
    {"icmp.tx.suppressed", &Counters::icmp_tx_suppressed},
    {"icmp.tx.drop.no_buffer", &Counters::icmp_tx_drop_no_buffer},
};

// A counter without a name here would never be reported.
static_assert(std::size(names) * sizeof(std::uint64_t) == sizeof(Counters),
              "every field of Counters needs a name in the table");

}  // namespace

const CounterName* counter_names(std::size_t& count) {
  count = std::size(names);
  return names;
}

}  // namespace rz::net
