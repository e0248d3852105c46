"""RFC 7323, TCP extensions for high performance: window scaling (§2),
timestamps and their echo (§3, §4.3), PAWS (§5), and neither option used
unless both SYNs carried it."""
