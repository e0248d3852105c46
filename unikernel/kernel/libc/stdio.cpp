// <stdio.h> output for the kernel. stdout and stderr both go to the console,
// unbuffered: nothing waits in a buffer when the VM ends, so fflush has
// nothing to do. stdin exists for code that names it; nothing reads from it.
// Any other stream is an error (EBADF).
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "kernel/console.hpp"
#include "kernel/libc/format.hpp"

namespace {

// glibc's struct _IO_FILE: only the addresses matter, never the fields.
FILE stdin_file{};
FILE stdout_file{};
FILE stderr_file{};

bool is_console(FILE* f) {
  return f == &stdout_file || f == &stderr_file;
}

void console_sink(void*, const char* data, std::size_t len) {
  rz::console::write(data, len);
}

int bad_stream() {
  errno = EBADF;
  return EOF;
}

}  // namespace

extern "C" {

FILE* stdin = &stdin_file;
FILE* stdout = &stdout_file;
FILE* stderr = &stderr_file;

int vfprintf(FILE* f, const char* fmt, va_list ap) {
  if (!is_console(f)) return bad_stream();
  return rz::libc::vformat(console_sink, nullptr, fmt, ap);
}

int fprintf(FILE* f, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(f, fmt, ap);
  va_end(ap);
  return n;
}

int printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(stdout, fmt, ap);
  va_end(ap);
  return n;
}

// glibc's <stdio.h> defines vprintf and putchar inline when optimizing, and
// C++ allows no second definition: these are defined under other names and
// given the C names as their assembler labels.
int rz_vprintf(const char* fmt, va_list ap) __asm__("vprintf");
int rz_putchar(int c) __asm__("putchar");

int rz_vprintf(const char* fmt, va_list ap) {
  return vfprintf(stdout, fmt, ap);
}

int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) noexcept {
  return rz::libc::vsnprintf(buf, size, fmt, ap);
}

int snprintf(char* buf, size_t size, const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  int n = rz::libc::vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

// The caller promises the buffer is big enough.
int vsprintf(char* buf, const char* fmt, va_list ap) noexcept {
  return rz::libc::vsnprintf(buf, SIZE_MAX, fmt, ap);
}

int sprintf(char* buf, const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  int n = rz::libc::vsnprintf(buf, SIZE_MAX, fmt, ap);
  va_end(ap);
  return n;
}

int fputs(const char* s, FILE* f) {
  if (!is_console(f)) return bad_stream();
  rz::console::write(s, std::strlen(s));
  return 1;
}

int puts(const char* s) {
  std::size_t len = std::strlen(s);
  rz::console::write(s, len);
  rz::console::write("\n", 1);
  return len < INT_MAX ? int(len + 1) : INT_MAX;
}

int fputc(int c, FILE* f) {
  if (!is_console(f)) return bad_stream();
  char byte = static_cast<char>(c);
  rz::console::write(&byte, 1);
  return static_cast<unsigned char>(c);
}

int putc(int c, FILE* f) {
  return fputc(c, f);
}
int rz_putchar(int c) {
  return fputc(c, stdout);
}

size_t fwrite(const void* data, size_t size, size_t count, FILE* f) {
  if (!size || !count) return 0;
  if (!is_console(f)) {
    bad_stream();
    return 0;
  }
  size_t bytes;
  if (__builtin_mul_overflow(size, count, &bytes)) {
    errno = EINVAL;
    return 0;
  }
  rz::console::write(static_cast<const char*>(data), bytes);
  return count;
}

// Nothing is ever buffered; fflush(nullptr) means every stream.
int fflush(FILE* f) {
  if (f && !is_console(f) && f != &stdin_file) return bad_stream();
  return 0;
}

void perror(const char* s) {
  const char* message = std::strerror(errno);
  if (s && *s) {
    rz::console::write(s, std::strlen(s));
    rz::console::write(": ", 2);
  }
  rz::console::write(message, std::strlen(message));
  rz::console::write("\n", 1);
}

}  // extern "C"
