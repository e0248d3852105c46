// The HTTP/1.1 server as a service sees it (net/http_server.hpp has the
// rules it keeps). One call starts it with the standard routes:
//
//   GET|HEAD /          a small HTML page
//   GET|HEAD /hello     "Hello from ringzero\n"
//   GET|HEAD /bytes/N   N octets (N <= 16 MiB), octet i = i % 251, made as sent
//   POST|PUT /echo      the request's body back, with its Content-Type
//   GET|HEAD /stats     JSON: uptime, heap, HTTP and TCP figures, every counter
//
// Command-line words (bad values: one line on the console, default kept):
//   http_max_connections=N  open connections before "503" (default: what
//                           half the heap holds at the worst case of every
//                           buffer full, between 16 and 256)
//   http_header_timeout=MS  a header section must be complete within (10000)
//   http_idle_timeout=MS    a persistent connection with no request (30000)
//   http_max_body=BYTES     request bodies up to (65536; more: 413)
//
// More routes: http_server()->route("/path", {Method::get}, handler)
// before or after start_http_server().
#pragma once
#include <cstdint>

#include "net/http_server.hpp"

namespace rz::net {

// Starts the server on `port` once the stack is configured; logs
// "http: listening on port P (N connections at most)". False (and one
// line why) without a NIC, when the port is taken or a server runs.
bool start_http_server(std::uint16_t port = 80);
// The server start_http_server() made, or nullptr.
HttpServer* http_server();

}  // namespace rz::net
