// The agent's TCP commands (tcp_listen, tcp_unlisten, tcp_accept,
// tcp_connect, tcp_send, tcp_recv, tcp_shutdown, tcp_close, tcp_abort,
// tcp_set, tcp_state, tcp_list): connections by id, each in a mode
//   hold     received bytes stay in the stack (the window closes) until tcp_recv
//   echo     RFC 862: everything back; closes after the peer's FIN
//   discard  RFC 863: read and drop; closes after the peer's FIN
//   chargen  "size" bytes of the suites' pattern (0: until the peer closes), then FIN
// with byte counts and SHA-256 digests of what was received and sent.
// The same protocol as the Linux target's agent (harness/net/linux_agent.py).
#pragma once
#include <string>
#include <string_view>

#include "services/conformance/json.hpp"

namespace rz::agent {

// Whether `cmd` is one of the TCP commands.
bool is_tcp_command(std::string_view cmd);
// Runs it: the reply's fields go to `w`; false with the reason in `why`.
bool tcp_command(std::string_view cmd, const json::Object& r, json::Writer& w, std::string& why);

}  // namespace rz::agent
