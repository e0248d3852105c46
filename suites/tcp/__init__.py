"""TCP: the scripted-peer suites per RFC (rfc9293, and the RFCs that extend
it), driving the target's TCP through its agent's tcp_* commands and the
wire through ringzero.net.tcp."""
