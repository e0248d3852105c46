"""RFC 9293, the TCP specification: handshakes, every state, the segment
acceptability test, RST rules, closing, data and windows, urgent data and
options. Each test names the Appendix B requirements it checks
(@pytest.mark.tcp_req); see suites/tcp/requirements.toml."""
