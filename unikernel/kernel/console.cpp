#include "kernel/console.hpp"

#include <cstdarg>

#include "drivers/serial.hpp"
#include "kernel/libc/format.hpp"

namespace rz::console {
namespace {

bool ready = false;

// Converts "\n" to "\r\n" in chunks, so the UART sees few, large writes.
void write_crlf(const char* p, std::size_t len) {
  char buf[128];
  std::size_t n = 0;
  for (std::size_t i = 0; i < len; ++i) {
    if (p[i] == '\n') buf[n++] = '\r';
    buf[n++] = p[i];
    if (n >= sizeof(buf) - 1) {
      serial::write(serial::com1, buf, n);
      n = 0;
    }
  }
  if (n) serial::write(serial::com1, buf, n);
}

void sink(void*, const char* data, std::size_t len) {
  write_crlf(data, len);
}

}  // namespace

void init() {
  if (ready) return;
  serial::init(serial::com1);
  ready = true;
}

void write(const char* data, std::size_t len) {
  if (!ready) init();
  write_crlf(data, len);
}

void flush() {
  if (ready) serial::flush(serial::com1);
}

int print(const char* fmt, ...) {
  if (!ready) init();
  va_list ap;
  va_start(ap, fmt);
  int n = libc::vformat(sink, nullptr, fmt, ap);
  va_end(ap);
  return n;
}

}  // namespace rz::console
