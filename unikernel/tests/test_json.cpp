// The conformance agent's JSON reader and writer.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/conformance/json.hpp"

using rz::json::Object;
using rz::json::Writer;

namespace {
std::optional<Object> parse(std::string_view text) {
  std::string why;
  return Object::parse(text, why);
}
std::string why_of(std::string_view text) {
  std::string why;
  CHECK_FALSE(Object::parse(text, why));
  return why;
}
}  // namespace

TEST_CASE("a request object with each kind of value") {
  auto o = parse(R"( {"id": 42, "cmd": "ping", "flag": true, "off": false, "none": null,
                      "x": -1.25e1} )");
  REQUIRE(o);
  CHECK(o->size() == 6);
  CHECK(o->integer("id") == 42);
  CHECK(o->string("cmd") == "ping");
  CHECK(o->boolean("flag") == true);
  CHECK(o->boolean("off") == false);
  CHECK(o->find("none"));
  CHECK_FALSE(o->integer("x"));  // not an integer
  CHECK_FALSE(o->string("id"));  // wrong kind
  CHECK_FALSE(o->find("missing"));
  CHECK(parse("{}"));
}

TEST_CASE("string escapes and unicode") {
  auto o = parse(R"({"s": "a\"b\\c\/d\n\t\u0041\u00e9\u20ac\ud83d\ude00"})");
  REQUIRE(o);
  CHECK(*o->string("s") == "a\"b\\c/d\n\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST_CASE("malformed input is refused with a reason") {
  CHECK(why_of("") != "");
  CHECK(why_of("[1]").find("expected an object") != std::string::npos);
  CHECK(why_of(R"({"a": {"b": 1}})").find("nested") != std::string::npos);
  CHECK(why_of(R"({"a": [1]})").find("nested") != std::string::npos);
  CHECK(why_of(R"({"a": 1} x)").find("after the object") != std::string::npos);
  CHECK(why_of(R"({"a" 1})").find("':'") != std::string::npos);
  CHECK(why_of(R"({"a": 1,})") != "");
  CHECK(why_of(R"({"a": 01})").find("leading zero") != std::string::npos);
  CHECK(why_of(R"({"a": 1.})").find("fraction") != std::string::npos);
  CHECK(why_of(R"({"a": 1e})").find("exponent") != std::string::npos);
  CHECK(why_of(R"({"a": "x)").find("unterminated") != std::string::npos);
  CHECK(why_of(R"({"a": "\q"})").find("escape") != std::string::npos);
  CHECK(why_of(R"({"a": "\u12"})") != "");
  CHECK(why_of(R"({"a": "\ud800"})").find("surrogate") != std::string::npos);
  CHECK(why_of("{\"a\": \"\x01\"}").find("control") != std::string::npos);
  CHECK(why_of(R"({"a": 1, "a": 2})").find("duplicate") != std::string::npos);
  CHECK(why_of(R"({"a": tru})") != "");
}

TEST_CASE("integers: exact within int64, integer literals only") {
  CHECK(parse(R"({"n": -7})")->integer("n") == -7);
  CHECK(parse(R"({"n": -0})")->integer("n") == 0);
  CHECK(parse(R"({"n": 9007199254740993})")->integer("n") == 9007199254740993LL);  // 2^53 + 1
  CHECK(parse(R"({"n": 9223372036854775807})")->integer("n") == INT64_MAX);
  CHECK(parse(R"({"n": -9223372036854775808})")->integer("n") == INT64_MIN);
  // One past either end: still a number, not an integer.
  auto above = parse(R"({"n": 9223372036854775808})");
  REQUIRE(above);
  CHECK_FALSE(above->integer("n"));
  CHECK(above->number("n") == doctest::Approx(9.223372036854775808e18));
  CHECK_FALSE(parse(R"({"n": -9223372036854775809})")->integer("n"));
  CHECK_FALSE(parse(R"({"n": 100000000000000000000000000000})")->integer("n"));
  // Whole values written as fractions or exponents are not integer literals.
  CHECK_FALSE(parse(R"({"n": 7.0})")->integer("n"));
  CHECK_FALSE(parse(R"({"n": 1e2})")->integer("n"));
  CHECK(parse(R"({"n": 1e2})")->number("n") == 100.0);
  CHECK(parse(R"({"n": 1e400})")->number("n") == HUGE_VAL);
  CHECK(parse(R"({"n": -2.5E-3})")->number("n") == -0.0025);
  CHECK_FALSE(parse(R"({"n": "7"})")->number("n"));
  CHECK(why_of(R"({"n": +1})") != "");
  CHECK(why_of(R"({"n": .5})") != "");
  CHECK(why_of(R"({"n": -})") != "");
  CHECK(why_of(R"({"n": 0x10})") != "");
  CHECK(why_of(R"({"n": NaN})") != "");
  CHECK(why_of(R"({"n": Infinity})") != "");
}

TEST_CASE("null and presence") {
  auto o = parse(R"({"a": null, "b": 0})");
  REQUIRE(o);
  CHECK(o->is_null("a"));
  CHECK_FALSE(o->is_null("b"));
  CHECK_FALSE(o->is_null("c"));
  CHECK(o->has("a"));
  CHECK_FALSE(o->has("c"));
  REQUIRE(o->members().size() == 2);
  CHECK(o->members()[0].first == "a");
  CHECK(o->members()[1].first == "b");
}

TEST_CASE("raw UTF-8 in strings must be well formed") {
  CHECK(parse("{\"s\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\"}")->string("s") ==
        "caf\xc3\xa9 \xf0\x9f\x98\x80");
  CHECK(why_of("{\"s\": \"\xff\"}").find("UTF-8") != std::string::npos);
  CHECK(why_of("{\"s\": \"\xc3\"}").find("UTF-8") != std::string::npos);          // truncated
  CHECK(why_of("{\"s\": \"\xc0\xaf\"}").find("UTF-8") != std::string::npos);      // overlong
  CHECK(why_of("{\"s\": \"\xed\xa0\x80\"}").find("UTF-8") != std::string::npos);  // surrogate
  CHECK(why_of("{\"s\": \"\xf4\x90\x80\x80\"}").find("UTF-8") !=
        std::string::npos);                                            // above U+10FFFF
  CHECK(why_of("{\"s\xff\": 1}").find("UTF-8") != std::string::npos);  // keys too
  CHECK(why_of("\xef\xbb\xbf{}") != "");                               // no BOM
}

TEST_CASE("garbage never crashes the reader") {
  const std::string valid =
      R"({"id": -12, "cmd": "conn\u00e9ct", "port": 80, "x": 1.5e3, "b": true})";
  REQUIRE(parse(valid));
  // Every proper prefix is refused.
  for (std::size_t n = 0; n < valid.size(); ++n) CHECK_FALSE(parse(valid.substr(0, n)));
  // Every single-byte change is parsed or refused, never worse (ASan/UBSan watch).
  for (std::size_t i = 0; i < valid.size(); ++i) {
    for (int b = 0; b < 256; ++b) {
      std::string m = valid;
      m[i] = static_cast<char>(b);
      std::string why;
      auto o = Object::parse(m, why);
      CHECK((o.has_value() == why.empty()));
    }
  }
  // Deep nesting is refused at the first level, not recursed into.
  CHECK(why_of(R"({"a": )" + std::string(100000, '[')).find("nested") != std::string::npos);
  CHECK(why_of(std::string(100000, '{')) != "");
}

TEST_CASE("a long input is parsed without trouble") {
  std::string s = R"({"k": ")" + std::string(100000, 'x') + R"("})";
  auto o = parse(s);
  REQUIRE(o);
  CHECK(o->string("k")->size() == 100000);
}

TEST_CASE("the writer nests, separates and escapes") {
  Writer w;
  w.begin_object().key("id").value(7).key("ok").value(true).key("s").value("q\"\\\n\x01");
  w.key("list").begin_array().value(1).value(std::uint64_t(2)).begin_object().end_object();
  w.end_array().key("n").null().end_object();
  CHECK(w.str() == R"({"id":7,"ok":true,"s":"q\"\\\u000a\u0001","list":[1,2,{}],"n":null})");
}

TEST_CASE("the writer replaces bytes that are not UTF-8, keeps those that are") {
  Writer w;
  w.value(
      std::string_view("a\xff"
                       "b\xc3\xa9\xe2\x82\xc3\x28\x7f"));
  CHECK(w.str() == "\"a\\ufffdb\xc3\xa9\\ufffd\\ufffd\\ufffd(\x7f\"");
  // What the writer makes, the reader takes back.
  std::string why;
  Writer o;
  o.begin_object()
      .key("k\x01\"")
      .value(std::string_view("\x1f\\\xf0\x9f\x98\x80\xc0"))
      .end_object();
  auto back = Object::parse(o.str(), why);
  REQUIRE(back);
  CHECK(back->string("k\x01\"") == "\x1f\\\xf0\x9f\x98\x80\xef\xbf\xbd");
}

TEST_CASE("the writer writes doubles in the shortest form that reads back") {
  auto text = [](double d) {
    Writer w;
    w.value(d);
    return w.str();
  };
  CHECK(text(0.0) == "0");
  CHECK(text(1.5) == "1.5");
  CHECK(text(0.1) == "0.1");
  CHECK(text(-2.5e-3) == "-0.0025");
  CHECK(text(1e300) == "1e+300");
  CHECK(std::strtod(text(1.0 / 3).c_str(), nullptr) == 1.0 / 3);
  CHECK(text(HUGE_VAL) == "null");
  CHECK(text(std::nan("")) == "null");
  Writer w;
  w.begin_array().value(1.25).value(std::int64_t(-1)).value(std::uint64_t(UINT64_MAX)).end_array();
  CHECK(w.str() == "[1.25,-1,18446744073709551615]");
}
