// http_checks: request and response heads (framing, hop-by-hop headers,
// upgrades) and their serialisation, against what Beast does.
#include "warden/http_checks.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "unit/warden/http_checks_test_util.h"

namespace brig::warden {
namespace {

using testing::field;
using testing::get;
using testing::Headers;
using testing::make_request;

// normalize_request_head -----------------------------------------------------

// What Beast's parser makes of `raw` (a whole request head), then the check.
struct Parsed {
  std::optional<std::string> refused;
  Request req;
};
Parsed parse_and_check(const std::string& raw) {
  http::request_parser<http::buffer_body> p;
  error_code ec;
  p.put(asio::buffer(raw), ec);
  Parsed out;
  if (ec && ec != http::error::need_buffer) {
    out.refused = "parser: " + ec.message();
    return out;
  }
  EXPECT_TRUE(p.is_header_done()) << raw;
  out.refused = normalize_request_head(p.get(), framing_of(p));
  out.req = p.release();
  return out;
}
std::optional<std::string> check_raw(const std::string& fields, const std::string& version = "1.1") {
  return parse_and_check("POST http://a/ HTTP/" + version + "\r\nHost: a\r\n" + fields + "\r\n").refused;
}

TEST(NormalizeRequestHead, PlainHeadIsFine) {
  EXPECT_EQ(check_raw("Content-Length: 5\r\n"), std::nullopt);
  EXPECT_EQ(check_raw("X-Tab: a\tb\r\nX-Obs: caf\xc3\xa9\r\n"), std::nullopt);
  EXPECT_EQ(check_raw("Transfer-Encoding: chunked\r\n"), std::nullopt);
  EXPECT_EQ(check_raw(""), std::nullopt);
}

TEST(NormalizeRequestHead, ContentLengthWithTransferEncoding) {
  EXPECT_EQ(check_raw("Transfer-Encoding: identity\r\nContent-Length: 5\r\n"), "both Content-Length and Transfer-Encoding");
  // (Beast refuses this order itself.)
  EXPECT_TRUE(check_raw("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"));
}

TEST(NormalizeRequestHead, ContentLengthsCollapseWhenEqual) {
  auto p = parse_and_check("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\n");
  ASSERT_EQ(p.refused, std::nullopt);
  EXPECT_EQ(p.req.count(http::field::content_length), 1u);
  EXPECT_EQ(p.req[http::field::content_length], "5");
  EXPECT_TRUE(check_raw("Content-Length: 5\r\nContent-Length: 6\r\n"));
  EXPECT_TRUE(check_raw("Content-Length: 5, 6\r\n"));
  EXPECT_TRUE(check_raw("Content-Length: +5\r\n"));
}

// The smuggling case: Beast frames the body as chunked (the last line names
// chunked), Beast's serializer would not (it reads the first line).
TEST(NormalizeRequestHead, OneTransferEncodingLineExactlyChunked) {
  const std::string refused = "request Transfer-Encoding must be exactly chunked";
  EXPECT_EQ(check_raw("Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n"),
            "more than one Transfer-Encoding header");
  EXPECT_EQ(check_raw("Transfer-Encoding: chunked, chunked\r\n"), refused);
  EXPECT_EQ(check_raw("Transfer-Encoding: gzip, chunked\r\n"), refused);
  EXPECT_EQ(check_raw("Transfer-Encoding: gzip\r\n"), refused);
  EXPECT_EQ(check_raw("Transfer-Encoding: chunked, gzip\r\n"), refused);
  EXPECT_EQ(check_raw("Transfer-Encoding: \r\n"), refused);
  EXPECT_EQ(check_raw("Transfer-Encoding: chunked\r\n", "1.0"), "Transfer-Encoding in an HTTP/1.0 request");
  auto p = parse_and_check("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked , \r\n\r\n");
  ASSERT_EQ(p.refused, std::nullopt);
  EXPECT_EQ(p.req[http::field::transfer_encoding], "chunked");
}

TEST(NormalizeRequestHead, OneHost) {
  EXPECT_EQ(check_raw("Host: b\r\n"), "more than one Host header");
  EXPECT_EQ(check_raw("Host: a\r\n"), "more than one Host header");
}

TEST(NormalizeRequestHead, FramingMustAgreeWithTheParser) {
  Request req = make_request(http::verb::post, "/", {{"Content-Length", "5"}});
  EXPECT_EQ(normalize_request_head(req, {false, 6}), "Content-Length framed differently");
  Request te = make_request(http::verb::post, "/", {{"Transfer-Encoding", "chunked"}});
  EXPECT_EQ(normalize_request_head(te, {false, std::nullopt}), "Transfer-Encoding framed differently");
  Request none = make_request(http::verb::post, "/", {});
  EXPECT_EQ(normalize_request_head(none, {true, std::nullopt}), "a body framed without a framing header");
}

TEST(NormalizeRequestHead, ControlCharacters) {
  auto check = [](const Headers& h, std::string_view target = "/") {
    Request req = make_request(http::verb::get, target, h);
    return normalize_request_head(req, {});
  };
  EXPECT_EQ(check({{"X-Evil", std::string("a\x01" "b")}}), "control character in header X-Evil");
  EXPECT_EQ(check({{"X-Evil", "a\rb"}}), "control character in header X-Evil");
  EXPECT_EQ(check({{"X-Evil", "a\x7f"}}), "control character in header X-Evil");
  EXPECT_EQ(check({{"X-Evil", std::string("a\0b", 3)}}), "control character in header X-Evil");
  EXPECT_EQ(check({}, "/a\x01"), "control character in the request target");
  EXPECT_EQ(check({}, "/a b"), "control character in the request target");
}

TEST(NormalizeResponseHead, FramingRules) {
  auto check = [](const std::string& fields) -> std::optional<std::string> {
    http::response_parser<http::buffer_body> p;
    error_code ec;
    const std::string raw = "HTTP/1.1 200 OK\r\n" + fields + "\r\n";
    p.put(asio::buffer(raw), ec);
    if (ec && ec != http::error::need_buffer) return "parser: " + ec.message();
    return normalize_response_head(p.get(), framing_of(p));
  };
  EXPECT_EQ(check("Content-Length: 2\r\n"), std::nullopt);
  EXPECT_EQ(check("Transfer-Encoding: gzip, chunked\r\n"), std::nullopt);
  EXPECT_EQ(check("Transfer-Encoding: gzip\r\n"), std::nullopt);  // to the end of the connection
  EXPECT_EQ(check("Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n"), "more than one Transfer-Encoding header");
  EXPECT_EQ(check("Transfer-Encoding: chunked, chunked\r\n"), "chunked must be the last coding, applied once");
  EXPECT_EQ(check("Transfer-Encoding: identity\r\nContent-Length: 2\r\n"), "both Content-Length and Transfer-Encoding");
}

TEST(HostHeader, FromTheTarget) {
  EXPECT_EQ(host_header({"example.com", 80, "/"}, 80), "example.com");
  EXPECT_EQ(host_header({"example.com", 8080, "/"}, 80), "example.com:8080");
  EXPECT_EQ(host_header({"2001:db8::1", 443, "/"}, 443), "[2001:db8::1]");
  EXPECT_EQ(host_header({"2001:db8::1", 8443, "/"}, 443), "[2001:db8::1]:8443");
}

// is_websocket_upgrade -------------------------------------------------------

TEST(WebSocket, Detection) {
  EXPECT_TRUE(is_websocket_upgrade(get("/", {{"Upgrade", "WebSocket"}, {"Connection", "Upgrade"}})));
  EXPECT_TRUE(is_websocket_upgrade(get("/", {{"Upgrade", " websocket "}})));
  EXPECT_FALSE(is_websocket_upgrade(get("/", {{"Upgrade", "h2c"}, {"Connection", "Upgrade"}})));
  EXPECT_FALSE(is_websocket_upgrade(get("/")));
}

// prepare_upstream_request ---------------------------------------------------

TEST(PrepareUpstreamRequest, StripsHopByHopAndProxyHeaders) {
  auto req = get("http://example.com/x?y",
                 {{"Host", "example.com"},
                  {"User-Agent", "curl"},
                  {"Proxy-Authorization", "Basic eDp5"},
                  {"Proxy-Connection", "keep-alive"},
                  {"Keep-Alive", "timeout=5"},
                  {"TE", "trailers"},
                  {"Trailer", "X-Checksum"},
                  {"Connection", "keep-alive, X-Secret, Upgrade, HTTP2-Settings"},
                  {"Connection", "x-other"},
                  {"X-Secret", "1"},
                  {"X-Other", "2"},
                  {"Upgrade", "h2c"},
                  {"HTTP2-Settings", "AAMAAABkAAQAAP__"},
                  {"Content-Length", "3"}});
  auto dest = absolute_target(req);
  ASSERT_TRUE(dest);
  prepare_upstream_request(req, *dest, false);
  EXPECT_EQ(req.target(), "/x?y");
  for (const char* gone : {"Proxy-Authorization", "Proxy-Connection", "Keep-Alive", "TE", "Trailer", "X-Secret",
                           "X-Other", "Upgrade", "HTTP2-Settings"}) {
    EXPECT_EQ(field(req, gone), "<absent>") << gone;
  }
  EXPECT_EQ(field(req, "Host"), "example.com");
  EXPECT_EQ(field(req, "User-Agent"), "curl");
  EXPECT_EQ(field(req, "Content-Length"), "3");
  EXPECT_TRUE(req.keep_alive());
  EXPECT_EQ(field(req, "Connection"), "<absent>");  // HTTP/1.1 is keep-alive by default
}

TEST(PrepareUpstreamRequest, StripsUpgradeEvenWithoutConnectionNamingIt) {
  auto req = get("/", {{"Host", "a"}, {"Upgrade", "h2c"}, {"HTTP2-Settings", "x"}});
  prepare_upstream_request(req, Dest{"a", 443, "/"}, false);
  EXPECT_EQ(field(req, "Upgrade"), "<absent>");
  EXPECT_EQ(field(req, "HTTP2-Settings"), "<absent>");
}

TEST(PrepareUpstreamRequest, Http10GetsKeepAlive) {
  auto req = make_request(http::verb::get, "http://a.test/", {{"Connection", "close"}}, 10);
  prepare_upstream_request(req, Dest{"a.test", 80, "/"}, false);
  EXPECT_TRUE(req.keep_alive());
  EXPECT_EQ(field(req, "Connection"), "keep-alive");
}

TEST(PrepareUpstreamRequest, ClientCloseDoesNotReachUpstream) {
  auto req = get("/", {{"Host", "a"}, {"Connection", "close"}});
  prepare_upstream_request(req, Dest{"a", 443, "/"}, false);
  EXPECT_TRUE(req.keep_alive());
}

TEST(PrepareUpstreamRequest, WebSocketKeepsUpgrade) {
  auto req = get("/chat", {{"Host", "a"},
                           {"Upgrade", "websocket"},
                           {"Connection", "keep-alive, Upgrade"},
                           {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                           {"Sec-WebSocket-Version", "13"},
                           {"Proxy-Authorization", "Basic eDp5"}});
  prepare_upstream_request(req, Dest{"a", 443, "/chat"}, true);
  EXPECT_EQ(field(req, "Upgrade"), "websocket");
  EXPECT_EQ(field(req, "Connection"), "Upgrade");
  EXPECT_EQ(field(req, "Sec-WebSocket-Key"), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(field(req, "Proxy-Authorization"), "<absent>");
}

// A client must not be able to strip the headers that frame or route the
// request by naming them in Connection: the body would reach upstream unframed
// and be read as a second, unchecked request.
TEST(PrepareUpstreamRequest, ConnectionCannotStripFramingOrHost) {
  auto req = make_request(http::verb::post, "http://a.test/upload",
                          {{"Host", "a.test"},
                           {"Content-Length", "20"},
                           {"Connection", "Content-Length, Host, Transfer-Encoding, X-Drop"},
                           {"X-Drop", "1"}});
  prepare_upstream_request(req, Dest{"a.test", 80, "/upload"}, false);
  EXPECT_EQ(field(req, "Content-Length"), "20");
  EXPECT_EQ(field(req, "Host"), "a.test");
  EXPECT_EQ(field(req, "X-Drop"), "<absent>");

  auto chunked = make_request(http::verb::post, "/", {{"Host", "a"}, {"Transfer-Encoding", "chunked"},
                                                      {"Connection", "transfer-encoding"}});
  prepare_upstream_request(chunked, Dest{"a", 443, "/"}, false);
  EXPECT_EQ(field(chunked, "Transfer-Encoding"), "chunked");
  EXPECT_TRUE(chunked.chunked());
}

// prepare_client_response ----------------------------------------------------

Response response(const Headers& headers) {
  Response res{http::status::ok, 11};
  for (const auto& [k, v] : headers) res.insert(k, v);
  return res;
}

TEST(PrepareClientResponse, StripsHopByHop) {
  auto res = response({{"Content-Type", "text/plain"},
                       {"Content-Length", "2"},
                       {"Connection", "close, X-Hop"},
                       {"X-Hop", "1"},
                       {"Keep-Alive", "timeout=5"},
                       {"Proxy-Authenticate", "Basic"},
                       {"Proxy-Connection", "close"},
                       {"Trailer", "X"},
                       {"Upgrade", "h2c"}});
  prepare_client_response(res, true, false);
  for (const char* gone : {"X-Hop", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Trailer", "Upgrade"}) {
    EXPECT_EQ(field(res, gone), "<absent>") << gone;
  }
  EXPECT_EQ(field(res, "Content-Type"), "text/plain");
  EXPECT_EQ(field(res, "Content-Length"), "2");
  EXPECT_TRUE(res.keep_alive()) << "upstream's close is not the client's";
}

TEST(PrepareClientResponse, CloseForTheClient) {
  auto res = response({{"Connection", "keep-alive"}});
  prepare_client_response(res, false, false);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(field(res, "Connection"), "close");
}

TEST(PrepareClientResponse, UpgradedKeepsUpgrade) {
  Response res{http::status::switching_protocols, 11};
  res.insert("Upgrade", "websocket");
  res.insert("Connection", "Upgrade");
  res.insert("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  prepare_client_response(res, false, true);
  EXPECT_EQ(field(res, "Upgrade"), "websocket");
  EXPECT_EQ(field(res, "Connection"), "Upgrade");
  EXPECT_EQ(field(res, "Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(PrepareClientResponse, UpstreamCannotStripFraming) {
  auto res = response({{"Content-Length", "2"}, {"Connection", "Content-Length"}});
  prepare_client_response(res, true, false);
  EXPECT_EQ(field(res, "Content-Length"), "2");
}

}  // namespace
}  // namespace brig::warden

namespace brig::warden {
namespace {

// What Beast's own serializer writes for the head of `msg`.
template <bool isRequest>
std::string beast_head(http::message<isRequest, http::buffer_body>& msg) {
  msg.body().data = nullptr;
  msg.body().size = 0;
  msg.body().more = false;
  http::serializer<isRequest, http::buffer_body> sr{msg};
  sr.split(true);
  std::string out;
  error_code ec;
  while (!sr.is_header_done()) {
    sr.next(ec, [&](error_code&, const auto& buffers) {
      for (auto b : beast::buffers_range_ref(buffers)) out.append(static_cast<const char*>(b.data()), b.size());
      sr.consume(beast::buffer_bytes(buffers));
    });
    if (ec) return "error: " + ec.message();
  }
  return out;
}

TEST(SerializeHead, RequestMatchesBeast) {
  for (unsigned version : {10u, 11u}) {
    auto req = make_request(http::verb::post, "/a/b?c=d%20e", {{"Host", "example.com"},
                                                               {"X-Custom", "one"},
                                                               {"X-Custom", "two"},
                                                               {"content-length", "3"},
                                                               {"Weird-Name_1", ""}},
                            version);
    std::string mine;
    serialize_head(mine, req);
    EXPECT_EQ(mine, beast_head(req)) << "HTTP/1." << version % 10;
  }
  Request unknown{http::verb::unknown, "/", 11};
  unknown.method_string("PROPPATCH");
  unknown.insert("Host", "a");
  std::string mine;
  serialize_head(mine, unknown);
  EXPECT_EQ(mine, "PROPPATCH / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(mine, beast_head(unknown));
}

TEST(SerializeHead, ResponseMatchesBeast) {
  struct Case {
    unsigned code;
    std::string reason;
  };
  for (const auto& c : {Case{200, ""}, Case{404, "Nope"}, Case{299, ""}, Case{599, "Custom"}, Case{101, ""}}) {
    Response res;
    res.result(c.code);
    res.version(11);
    if (!c.reason.empty()) res.reason(c.reason);
    res.insert("Content-Type", "text/plain");
    res.insert("Set-Cookie", "a=1");
    res.insert("Set-Cookie", "b=2");
    std::string mine;
    serialize_head(mine, res);
    EXPECT_EQ(mine, beast_head(res)) << c.code;
    EXPECT_EQ(mine.rfind("HTTP/1.1 " + std::to_string(c.code) + " ", 0), 0u) << mine;
  }
}

TEST(PrepareUpstreamRequest, ExpectIsAnsweredByWardenNotForwarded) {
  auto req = get("/", {{"Host", "a"}, {"Expect", "100-continue"}, {"Content-Length", "5"}});
  prepare_upstream_request(req, Dest{"a", 80, "/"}, false);
  EXPECT_EQ(field(req, "Expect"), "<absent>");
  EXPECT_EQ(field(req, "Content-Length"), "5");
}

}  // namespace
}  // namespace brig::warden
