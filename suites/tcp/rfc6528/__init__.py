"""RFC 6528, defending against sequence number attacks: the target's
initial sequence numbers, over many connections and over time."""
