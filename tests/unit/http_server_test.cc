// The HttpServer's pure helpers: auth parsing, constant-time comparison, targets and
// queries. The server itself is driven over loopback by test_http_server.py.
#include <catch2/catch.hpp>

#include "http/http_server.h"

using namespace gateway::http;

TEST_CASE("http: constant-time comparison gives the same answers as ==") {
  CHECK(ConstantTimeEquals("", ""));
  CHECK(ConstantTimeEquals("secret", "secret"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secreT"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secret2"));
  CHECK_FALSE(ConstantTimeEquals("secret2", "secret"));
  CHECK_FALSE(ConstantTimeEquals("", "x"));
  CHECK_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
  CHECK_FALSE(ConstantTimeEquals("abc", std::string("abc\0", 4)));
}

TEST_CASE("http: base64 round trip and Basic credentials") {
  CHECK(Base64Encode("") == "");
  CHECK(Base64Encode("f") == "Zg==");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Encode("operator:pa:ss 密码") == "b3BlcmF0b3I6cGE6c3Mg5a+G56CB");

  auto c = ParseBasicAuth("Basic " + Base64Encode("operator:pa:ss 密码"));
  REQUIRE(c);
  CHECK(c->first == "operator");
  CHECK(c->second == "pa:ss 密码");  // only the first colon separates
  CHECK(ParseBasicAuth("basic   " + Base64Encode("a:")));
  CHECK_FALSE(ParseBasicAuth("Bearer abc"));
  CHECK_FALSE(ParseBasicAuth("Basic " + Base64Encode("nocolon")));
  CHECK_FALSE(ParseBasicAuth("Basic !!!!"));
  CHECK_FALSE(ParseBasicAuth("Basic Zg="));   // bad length
  CHECK_FALSE(ParseBasicAuth("Basic Z=g="));  // padding in the middle
}

TEST_CASE("http: request credentials are checked") {
  Request req{Verb::get, "/", 11};
  CHECK_FALSE(CheckBasicAuth(req, "u", "p"));
  CHECK_FALSE(CheckBearerToken(req, "t"));
  req.set(boost::beast::http::field::authorization, "Basic " + Base64Encode("u:p"));
  CHECK(CheckBasicAuth(req, "u", "p"));
  CHECK_FALSE(CheckBasicAuth(req, "u", "q"));
  CHECK_FALSE(CheckBasicAuth(req, "v", "p"));
  CHECK_FALSE(CheckBearerToken(req, "u:p"));
  req.set(boost::beast::http::field::authorization, "Bearer  tok-123 ");
  CHECK(CheckBearerToken(req, "tok-123"));
  CHECK_FALSE(CheckBearerToken(req, "tok-12"));
  CHECK_FALSE(CheckBasicAuth(req, "u", "p"));
}

TEST_CASE("http: targets split into path and decoded query parameters") {
  auto [p, q] = SplitTarget("/events?facility=canteen-01&x=%E9%A3%9F+a");
  CHECK(p == "/events");
  CHECK(q == "facility=canteen-01&x=%E9%A3%9F+a");
  CHECK(QueryParam(q, "facility") == std::optional<std::string>("canteen-01"));
  CHECK(QueryParam(q, "x") == std::optional<std::string>("食 a"));
  CHECK_FALSE(QueryParam(q, "y"));
  CHECK(QueryParam("flag", "flag") == std::optional<std::string>(""));
  auto [p2, q2] = SplitTarget("/plain");
  CHECK(p2 == "/plain");
  CHECK(q2.empty());
}

TEST_CASE("http: responses carry the request's version and keep-alive") {
  Request req{Verb::get, "/", 10};
  auto res = MakeResponse(req, HttpStatus::ok, "body", "text/html");
  CHECK(res.version() == 10);
  CHECK_FALSE(res.keep_alive());
  CHECK(res[boost::beast::http::field::content_type] == "text/html");
  CHECK(res[boost::beast::http::field::content_length] == "4");
}

TEST_CASE("http: media types are parsed, not searched") {
  CHECK(MediaTypeIs("application/json", "application/json"));
  CHECK(MediaTypeIs("Application/JSON", "application/json"));
  CHECK(MediaTypeIs("application/json; charset=utf-8", "application/json"));
  CHECK(MediaTypeIs("application/json;charset=\"UTF-8\"", "application/json"));
  CHECK(MediaTypeIs(" application/json ; charset=utf-8 ", "application/json"));
  CHECK_FALSE(MediaTypeIs("text/plain; charset=json", "application/json"));
  CHECK_FALSE(MediaTypeIs("application/jsonx", "application/json"));
  CHECK_FALSE(MediaTypeIs("application/json-seq", "application/json"));
  CHECK_FALSE(MediaTypeIs("application/x-json", "application/json"));
  CHECK_FALSE(MediaTypeIs("application/json; charset=latin1", "application/json"));
  CHECK_FALSE(MediaTypeIs("application/json; boundary=x", "application/json"));
  CHECK_FALSE(MediaTypeIs("application/json; charset", "application/json"));
  CHECK_FALSE(MediaTypeIs("", "application/json"));
}
