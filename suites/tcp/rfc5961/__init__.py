"""RFC 5961, improving TCP's robustness to blind in-window attacks:
challenge ACKs for in-window RSTs (§3) and SYNs (§4), the ACK field's
acceptable range against data injection (§5), and throttling of the
challenge ACKs (§7)."""
