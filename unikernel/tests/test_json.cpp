// The conformance agent's JSON reader and writer.
#include <doctest/doctest.h>

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

TEST_CASE("integers: only whole numbers within 2^53") {
  CHECK(parse(R"({"n": 9007199254740992})")->integer("n") == 9007199254740992LL);
  CHECK_FALSE(parse(R"({"n": 9007199254740993000})")->integer("n"));
  CHECK_FALSE(parse(R"({"n": 1e400})")->integer("n"));
  CHECK(parse(R"({"n": -7})")->integer("n") == -7);
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
