#include "kernel/cmdline.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace cmdline = rz::cmdline;

TEST_CASE("the image name is not an argument") {
  CHECK(cmdline::strip_image_name("/path/hello.img test=stdlib heap=debug") ==
        "test=stdlib heap=debug");
  CHECK(cmdline::strip_image_name("  hello.img    a=b ") == "a=b ");
  CHECK(cmdline::strip_image_name("hello.img").empty());
  CHECK(cmdline::strip_image_name("").empty());
  CHECK(cmdline::strip_image_name("   ").empty());
}

TEST_CASE("key=value lookup") {
  std::string_view line = "ip=10.0.0.2/24 quiet test=fault kind=null test=exit";
  CHECK(cmdline::value(line, "ip") == "10.0.0.2/24");
  CHECK(cmdline::value(line, "kind") == "null");
  CHECK(cmdline::value(line, "test") == "exit");  // the last one wins
  CHECK(cmdline::value(line, "quiet").empty());   // bare word: no value
  CHECK(cmdline::value(line, "missing").empty());
  CHECK(cmdline::value(line, "tes").empty());  // whole keys only
}

TEST_CASE("bare words and keys are both present") {
  std::string_view line = "quiet heap=debug empty=";
  CHECK(cmdline::has(line, "quiet"));
  CHECK(cmdline::has(line, "heap"));
  CHECK(cmdline::has(line, "empty"));
  CHECK(cmdline::value(line, "empty").empty());
  CHECK_FALSE(cmdline::has(line, "debug"));
}

TEST_CASE("for_each visits words in order") {
  std::vector<std::string> seen;
  cmdline::for_each("  a=1  b c==2 ", [&](std::string_view k, std::string_view v, bool has_value) {
    seen.push_back(std::string(k) + (has_value ? "=" + std::string(v) : ""));
  });
  CHECK(seen == std::vector<std::string>{"a=1", "b", "c==2"});
}
