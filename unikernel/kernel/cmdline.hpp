// The kernel command line: space-separated words, "key=value" or bare "key".
// Pure functions over string views (host-tested in tests/test_cmdline.cpp).
#pragma once
#include <string_view>

namespace rz::cmdline {

// QEMU passes "<image path> <-append text>" to a multiboot kernel; the
// arguments are what follows the first word.
inline std::string_view strip_image_name(std::string_view full) {
  auto start = full.find_first_not_of(' ');
  if (start == std::string_view::npos) return {};
  auto end = full.find(' ', start);
  if (end == std::string_view::npos) return {};
  auto rest = full.substr(end);
  auto args = rest.find_first_not_of(' ');
  return args == std::string_view::npos ? std::string_view{} : rest.substr(args);
}

// Calls f(key, value, has_value) for each word, left to right.
template <typename F>
void for_each(std::string_view line, F&& f) {
  while (!line.empty()) {
    auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) return;
    line.remove_prefix(start);
    auto end = line.find(' ');
    std::string_view word = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    auto eq = word.find('=');
    if (eq == std::string_view::npos)
      f(word, std::string_view{}, false);
    else
      f(word.substr(0, eq), word.substr(eq + 1), true);
  }
}

// The value of the last "key=value" (later words override earlier ones).
inline std::string_view value(std::string_view line, std::string_view key) {
  std::string_view found;
  for_each(line, [&](std::string_view k, std::string_view v, bool has_value) {
    if (k == key && has_value) found = v;
  });
  return found;
}

inline bool has(std::string_view line, std::string_view key) {
  bool found = false;
  for_each(line, [&](std::string_view k, std::string_view, bool) { found |= k == key; });
  return found;
}

}  // namespace rz::cmdline
