"""RFC 6298, computing TCP's retransmission timer: the initial RTO of one
second, exponential backoff, Karn's rule for RTT samples, the RTO from
SRTT and RTTVAR, and when the timer starts, restarts and stops. The
target's timers are read off the wire, and its SRTT, RTTVAR and RTO from
tcp_state's stats."""
