"""RFC 5681, TCP congestion control, with RFC 6582's NewReno recovery and
RFC 6928's larger initial window: the window counted on the wire, slow
start, fast retransmit and recovery with partial ACKs, the window after a
timeout and after idle, and when the receiver acknowledges (§4.2)."""
