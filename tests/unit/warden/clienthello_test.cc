#include "brig/warden/clienthello.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <random>
#include <string>

namespace brig::warden {
namespace {

using Status = ClientHello::Status;

// The first flight of a real OpenSSL client: the bytes it writes before it
// needs anything from the server.
std::string openssl_client_hello(int max_version, const char* sni) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  EXPECT_NE(ctx, nullptr);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);  // ssl owns both
  SSL_set_connect_state(ssl);
  if (sni) {
    EXPECT_EQ(SSL_set_tlsext_host_name(ssl, sni), 1);
  }
  EXPECT_EQ(SSL_do_handshake(ssl), -1);
  EXPECT_EQ(SSL_get_error(ssl, -1), SSL_ERROR_WANT_READ);
  char* data = nullptr;
  const long n = BIO_get_mem_data(wbio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

std::string u16(std::size_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
std::string u24(std::size_t v) { return static_cast<char>(v >> 16) + u16(v & 0xffff); }

// A hand-built ClientHello record around `extensions` (the raw extension
// block, without its length; nullopt-like empty string and `with_ext_block`
// false means no extension block at all).
std::string make_hello(const std::string& extensions, bool with_ext_block = true) {
  std::string body;
  body += "\x03\x03";
  body += std::string(32, 'r');                      // random
  body += '\0';                                      // session id
  body += u16(2) + std::string("\x13\x01", 2);       // cipher suites
  body += std::string("\x01\x00", 2);                // compression: null
  if (with_ext_block) body += u16(extensions.size()) + extensions;
  std::string hs = "\x01" + u24(body.size()) + body;
  return std::string("\x16\x03\x01", 3) + u16(hs.size()) + hs;
}

std::string sni_ext(const std::string& names_list) {
  return u16(0) + u16(names_list.size() + 2) + u16(names_list.size()) + names_list;
}
std::string host_name(const std::string& name) { return std::string(1, '\0') + u16(name.size()) + name; }

void expect_complete(const std::string& bytes, const std::string& sni) {
  auto ch = parse_client_hello(bytes);
  EXPECT_EQ(ch.status, Status::complete);
  EXPECT_EQ(ch.sni, sni);
  EXPECT_EQ(ch.wanted, bytes.size());
}

void expect_prefixes_need_more(const std::string& bytes) {
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto ch = parse_client_hello(std::string_view(bytes).substr(0, n));
    ASSERT_EQ(ch.status, Status::need_more) << "prefix " << n;
    EXPECT_EQ(ch.wanted, n < 5 ? 5 : bytes.size()) << "prefix " << n;
    EXPECT_TRUE(ch.sni.empty());
  }
}

TEST(ClientHello, OpenSslTls13WithSni) {
  const auto bytes = openssl_client_hello(TLS1_3_VERSION, "api.example.com");
  ASSERT_GT(bytes.size(), 5u);
  ASSERT_EQ(((std::size_t{static_cast<unsigned char>(bytes[3])} << 8) | static_cast<unsigned char>(bytes[4])) + 5,
            bytes.size())
      << "one record";
  expect_complete(bytes, "api.example.com");
  expect_prefixes_need_more(bytes);
}

TEST(ClientHello, OpenSslTls12WithSni) {
  const auto bytes = openssl_client_hello(TLS1_2_VERSION, "www.example.org");
  expect_complete(bytes, "www.example.org");
  expect_prefixes_need_more(bytes);
}

TEST(ClientHello, OpenSslWithoutSni) {
  for (int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    const auto bytes = openssl_client_hello(v, nullptr);
    expect_complete(bytes, "");
    expect_prefixes_need_more(bytes);
  }
}

TEST(ClientHello, TrailingBytesAfterTheRecordAreIgnored) {
  auto bytes = openssl_client_hello(TLS1_3_VERSION, "a.example");
  const auto size = bytes.size();
  bytes += "\x17\x03\x03garbage";
  auto ch = parse_client_hello(bytes);
  EXPECT_EQ(ch.status, Status::complete);
  EXPECT_EQ(ch.sni, "a.example");
  EXPECT_EQ(ch.wanted, size);
}

TEST(ClientHello, SniKeptAsSent) {
  expect_complete(openssl_client_hello(TLS1_3_VERSION, "API.Example.COM"), "API.Example.COM");
}

TEST(ClientHello, HandBuilt) {
  expect_complete(make_hello(sni_ext(host_name("x.test"))), "x.test");
  expect_complete(make_hello(""), "");                // empty extension block
  expect_complete(make_hello("", false), "");         // no extension block
  // SNI after another extension; a non-host_name entry is skipped.
  const std::string other = u16(0x2b) + u16(3) + std::string("\x02\x03\x04", 3);
  expect_complete(make_hello(other + sni_ext(std::string("\x05") + u16(2) + "zz" + host_name("y.test"))), "y.test");
}

TEST(ClientHello, NotTls) {
  for (std::string s : {std::string("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), std::string("G"),
                        std::string("CONNECT a:443 HTTP/1.1\r\n\r\n"), std::string("\x80\x2e\x01\x03\x01", 5),
                        std::string("\x17\x03\x03\x00\x10", 5)}) {
    EXPECT_EQ(parse_client_hello(s).status, Status::not_tls) << s;
  }
  // A handshake byte but not TLS's major version 3.
  EXPECT_EQ(parse_client_hello(std::string("\x16\x02\x00\x00\x10", 5)).status, Status::not_tls);
}

TEST(ClientHello, EmptyInputNeedsFiveBytes) {
  auto ch = parse_client_hello("");
  EXPECT_EQ(ch.status, Status::need_more);
  EXPECT_EQ(ch.wanted, 5u);
}

TEST(ClientHello, CorruptedLengthsAreMalformed) {
  const std::string good = make_hello(sni_ext(host_name("x.test")));
  ASSERT_EQ(parse_client_hello(good).status, Status::complete);
  auto corrupt = [&](std::size_t at, std::string with) {
    std::string b = good;
    b.replace(at, with.size(), with);
    return parse_client_hello(b).status;
  };
  EXPECT_EQ(corrupt(3, u16(0)), Status::malformed);              // empty record
  EXPECT_EQ(corrupt(3, u16(16385)), Status::malformed);          // oversized record
  EXPECT_EQ(corrupt(5, "\x02"), Status::malformed);              // not a ClientHello
  EXPECT_EQ(corrupt(6, u24(good.size())), Status::malformed);    // handshake longer than the record
  // Record length shorter than the handshake claims: the hello is cut.
  {
    std::string b = good;
    const std::size_t rec = good.size() - 5 - 1;
    b.replace(3, 2, u16(rec));
    b.pop_back();
    EXPECT_EQ(parse_client_hello(b).status, Status::malformed);
  }
  const std::size_t ext_block = 5 + 4 + 2 + 32 + 1 + 4 + 2;  // offset of the extension block length
  EXPECT_EQ(corrupt(ext_block, u16(0x1000)), Status::malformed);    // extension block past the end
  EXPECT_EQ(corrupt(ext_block + 4, u16(0x1000)), Status::malformed);  // extension past the block
  EXPECT_EQ(corrupt(ext_block + 6, u16(0x1000)), Status::malformed);  // server name list past the extension
  EXPECT_EQ(corrupt(ext_block + 9, u16(0x1000)), Status::malformed);  // host name past the list
  EXPECT_EQ(corrupt(5 + 4 + 2 + 32, "\xff"), Status::malformed);      // session id past the end
}

TEST(ClientHello, BadServerNameListsAreMalformed) {
  EXPECT_EQ(parse_client_hello(make_hello(sni_ext(host_name("a.test") + host_name("b.test")))).status,
            Status::malformed);
  EXPECT_EQ(parse_client_hello(make_hello(sni_ext(host_name("")))).status, Status::malformed);
  EXPECT_EQ(parse_client_hello(make_hello(sni_ext(host_name("a.test")) + sni_ext(host_name("b.test")))).status,
            Status::malformed);
}

TEST(ClientHello, RandomCorruptionNeverCrashesOrOverreads) {
  const std::string bases[] = {openssl_client_hello(TLS1_3_VERSION, "api.example.com"),
                               openssl_client_hello(TLS1_2_VERSION, nullptr), make_hello(sni_ext(host_name("x.test")))};
  std::mt19937 rng(12345);
  int complete = 0, other = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string b = bases[static_cast<std::size_t>(i) % std::size(bases)];
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) {
      // Bias towards the head, where the lengths are.
      const std::size_t at = rng() % 2 ? rng() % std::min<std::size_t>(b.size(), 64) : rng() % b.size();
      b[at] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) b.resize(rng() % b.size());
    // A heap copy of exactly the input size, so ASan catches any over-read.
    std::unique_ptr<char[]> exact(new char[b.size() ? b.size() : 1]);
    std::copy(b.begin(), b.end(), exact.get());
    auto ch = parse_client_hello(std::string_view(exact.get(), b.size()));
    if (ch.status == Status::complete) {
      ++complete;
      EXPECT_LE(ch.sni.size(), b.size());
      EXPECT_LE(ch.wanted, b.size());
    } else {
      ++other;
    }
    if (ch.status == Status::need_more) {
      EXPECT_GT(ch.wanted, b.size());
      EXPECT_LE(ch.wanted, kMaxClientHello);
    }
  }
  EXPECT_GT(complete, 0);
  EXPECT_GT(other, 0);
}

}  // namespace
}  // namespace brig::warden
