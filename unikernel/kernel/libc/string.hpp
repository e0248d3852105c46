// The algorithms behind the kernel's <string.h> functions
// (kernel/libc/string.cpp), kept apart from the C symbols so the host tests
// can run them next to glibc's. The C locale only: strcoll is strcmp,
// strxfrm copies, and case folding is ASCII.
#pragma once
#include <cstddef>

namespace rz::libc {

void* memcpy(void* dst, const void* src, std::size_t n) noexcept;
void* memmove(void* dst, const void* src, std::size_t n) noexcept;
void* memset(void* dst, int c, std::size_t n) noexcept;
int memcmp(const void* a, const void* b, std::size_t n) noexcept;
void* memchr(const void* s, int c, std::size_t n) noexcept;
void* memrchr(const void* s, int c, std::size_t n) noexcept;

std::size_t strlen(const char* s) noexcept;
std::size_t strnlen(const char* s, std::size_t max) noexcept;
int strcmp(const char* a, const char* b) noexcept;
int strncmp(const char* a, const char* b, std::size_t n) noexcept;
int strcasecmp(const char* a, const char* b) noexcept;
int strncasecmp(const char* a, const char* b, std::size_t n) noexcept;
int strcoll(const char* a, const char* b) noexcept;
std::size_t strxfrm(char* dst, const char* src, std::size_t n) noexcept;

char* strcpy(char* dst, const char* src) noexcept;
char* strncpy(char* dst, const char* src, std::size_t n) noexcept;
char* stpcpy(char* dst, const char* src) noexcept;
char* strcat(char* dst, const char* src) noexcept;
char* strncat(char* dst, const char* src, std::size_t n) noexcept;

char* strchr(const char* s, int c) noexcept;
char* strrchr(const char* s, int c) noexcept;
char* strstr(const char* haystack, const char* needle) noexcept;
std::size_t strspn(const char* s, const char* accept) noexcept;
std::size_t strcspn(const char* s, const char* reject) noexcept;
char* strpbrk(const char* s, const char* accept) noexcept;

// With malloc(); nullptr (and errno = ENOMEM) when it fails.
char* strdup(const char* s) noexcept;
char* strndup(const char* s, std::size_t max) noexcept;

// glibc's message for errnum, or "Unknown error N".
char* strerror(int errnum) noexcept;

}  // namespace rz::libc
