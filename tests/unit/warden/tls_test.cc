#include "warden/tls.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace brig::warden {
namespace {

namespace stdfs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (stdfs::temp_directory_path() / "brig-tls-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

X509* leaf_of(const std::shared_ptr<boost::asio::ssl::context>& ctx) {
  return SSL_CTX_get0_certificate(ctx->native_handle());
}

// X509_verify_cert of `leaf` against a store holding only the CA.
int verify(X509* leaf, X509* ca, const char* host = nullptr) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* sctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(sctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER);
  if (host) X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(sctx), host, 0);
  const int ok = X509_verify_cert(sctx);
  const int err = X509_STORE_CTX_get_error(sctx);
  X509_STORE_CTX_free(sctx);
  X509_STORE_free(store);
  return ok == 1 ? 0 : (err ? err : -1);
}

std::vector<std::string> sans(X509* x) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING* s = g->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<std::size_t>(ASN1_STRING_length(s))));
    } else if (g->type == GEN_IPADD) {
      out.push_back("IP(" + std::to_string(ASN1_STRING_length(g->d.iPAddress)) + " bytes)");
    } else {
      out.push_back("other");
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

class CaTest : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string dir() const { return tmp.path + "/ca"; }
};

TEST_F(CaTest, CreatesCertAndKeyWithModes) {
  auto ca = CertificateAuthority::load_or_create(dir());
  ASSERT_TRUE(ca) << ca.error().message();
  EXPECT_EQ(mode_of(dir() + "/ca.crt"), 0644u);
  EXPECT_EQ(mode_of(dir() + "/ca.key"), 0600u);
  EXPECT_NE(slurp(dir() + "/ca.crt").find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(slurp(dir() + "/ca.key").find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(X509_check_private_key(ca->cert.get(), ca->key.get()), 1);
}

TEST_F(CaTest, IsAConstrainedP256Ca) {
  auto ca = CertificateAuthority::load_or_create(dir());
  ASSERT_TRUE(ca) << ca.error().message();
  X509* x = ca->cert.get();
  EXPECT_EQ(X509_check_ca(x), 1);
  EXPECT_TRUE(X509_get_extension_flags(x) & EXFLAG_CA);
  EXPECT_EQ(X509_get_pathlen(x), 0);
  EXPECT_TRUE(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
  EXPECT_FALSE(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(x, NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_TRUE(bc->ca);
  EXPECT_EQ(crit, 1);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_EQ(EVP_PKEY_get_base_id(ca->key.get()), EVP_PKEY_EC);
  char group[64] = {};
  std::size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(ca->key.get(), group, sizeof group, &len), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_verify(x, ca->key.get()), 1) << "self-signed";
  // Valid now.
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(x)), 0);
}

TEST_F(CaTest, LoadingAgainReturnsTheSameCa) {
  auto first = CertificateAuthority::load_or_create(dir());
  ASSERT_TRUE(first) << first.error().message();
  const std::string crt = slurp(dir() + "/ca.crt");
  auto second = CertificateAuthority::load_or_create(dir());
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(X509_cmp(first->cert.get(), second->cert.get()), 0);
  EXPECT_EQ(EVP_PKEY_eq(first->key.get(), second->key.get()), 1);
  EXPECT_EQ(slurp(dir() + "/ca.crt"), crt);
}

TEST_F(CaTest, OnlyOneFilePresentIsAnErrorAndTouchesNothing) {
  ASSERT_TRUE(CertificateAuthority::load_or_create(dir()));
  const std::string crt = slurp(dir() + "/ca.crt"), key = slurp(dir() + "/ca.key");
  for (const char* keep : {"ca.crt", "ca.key"}) {
    const std::string other = tmp.path + "/only-" + keep;
    stdfs::create_directories(other);
    stdfs::copy_file(dir() + "/" + keep, other + "/" + keep);
    auto r = CertificateAuthority::load_or_create(other);
    ASSERT_FALSE(r) << keep;
    EXPECT_EQ(r.error().code(), Errc::invalid);
    EXPECT_EQ(r.error().message(), "only one of ca.crt and ca.key exists in " + other);
    EXPECT_EQ(slurp(other + "/" + keep), std::string(keep) == "ca.crt" ? crt : key);
    EXPECT_EQ(std::distance(stdfs::directory_iterator(other), stdfs::directory_iterator()), 1) << "nothing created";
  }
}

TEST_F(CaTest, MismatchedPairIsAnError) {
  ASSERT_TRUE(CertificateAuthority::load_or_create(tmp.path + "/a"));
  ASSERT_TRUE(CertificateAuthority::load_or_create(tmp.path + "/b"));
  stdfs::copy_file(tmp.path + "/b/ca.key", tmp.path + "/a/ca.key", stdfs::copy_options::overwrite_existing);
  auto r = CertificateAuthority::load_or_create(tmp.path + "/a");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "the CA key in " + tmp.path + "/a does not match ca.crt");
}

TEST_F(CaTest, GarbageFilesAreAnError) {
  stdfs::create_directories(dir());
  std::ofstream(dir() + "/ca.crt") << "not a certificate\n";
  std::ofstream(dir() + "/ca.key") << "not a key\n";
  auto r = CertificateAuthority::load_or_create(dir());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::invalid);
  EXPECT_EQ(slurp(dir() + "/ca.crt"), "not a certificate\n");
}

class LeafTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = CertificateAuthority::load_or_create(tmp.path + "/ca");
    ASSERT_TRUE(r) << r.error().message();
    ca = std::move(*r);
  }
  TempDir tmp;
  CertificateAuthority ca;
};

TEST_F(LeafTest, LeafVerifiesAgainstTheCaWithDnsSan) {
  LeafCache cache(ca, 16);
  bool hit = true;
  auto ctx = cache.get("api.example.com", &hit);
  ASSERT_TRUE(ctx) << ctx.error().message();
  EXPECT_FALSE(hit);
  X509* leaf = leaf_of(*ctx);
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(verify(leaf, ca.cert.get(), "api.example.com"), 0);
  EXPECT_EQ(sans(leaf), std::vector<std::string>{"DNS:api.example.com"});
  EXPECT_NE(verify(leaf, ca.cert.get(), "other.example.com"), 0);
  EXPECT_EQ(X509_check_ca(leaf), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);

  // A different CA does not vouch for it.
  TempDir other;
  auto other_ca = CertificateAuthority::load_or_create(other.path);
  ASSERT_TRUE(other_ca);
  EXPECT_NE(verify(leaf, other_ca->cert.get()), 0);
}

TEST_F(LeafTest, IpHostGetsAnIpSan) {
  LeafCache cache(ca, 16);
  for (const auto& [host, bytes] : std::vector<std::pair<std::string, int>>{{"10.0.0.1", 4}, {"2606:4700::1111", 16}}) {
    auto ctx = cache.get(host);
    ASSERT_TRUE(ctx) << host << ": " << ctx.error().message();
    X509* leaf = leaf_of(*ctx);
    EXPECT_EQ(sans(leaf), std::vector<std::string>{"IP(" + std::to_string(bytes) + " bytes)"}) << host;
    EXPECT_EQ(X509_check_ip_asc(leaf, host.c_str(), 0), 1) << host;
    EXPECT_EQ(verify(leaf, ca.cert.get()), 0) << host;
  }
}

TEST_F(LeafTest, SecondGetIsAHitWithTheSameContext) {
  LeafCache cache(ca, 16);
  bool hit = true;
  auto first = cache.get("a.example", &hit);
  ASSERT_TRUE(first);
  EXPECT_FALSE(hit);
  auto second = cache.get("a.example", &hit);
  ASSERT_TRUE(second);
  EXPECT_TRUE(hit);
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(cache.generated(), 1u);
}

TEST_F(LeafTest, ConcurrentFirstRequestsMakeOneCertificate) {
  LeafCache cache(ca, 16);
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<boost::asio::ssl::context*> got(kThreads, nullptr);
  std::vector<int> hits(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      bool hit = false;
      auto ctx = cache.get("new.example.com", &hit);
      if (ctx) got[static_cast<std::size_t>(i)] = ctx->get();
      hits[static_cast<std::size_t>(i)] = hit;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(cache.generated(), 1u);
  int misses = 0;
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_NE(got[static_cast<std::size_t>(i)], nullptr);
    EXPECT_EQ(got[static_cast<std::size_t>(i)], got[0]);
    misses += hits[static_cast<std::size_t>(i)] == 0;
  }
  EXPECT_EQ(misses, 1);
}

TEST_F(LeafTest, LruEvictsTheLeastRecent) {
  LeafCache cache(ca, 2);
  bool hit = false;
  ASSERT_TRUE(cache.get("a.test", &hit));
  ASSERT_TRUE(cache.get("b.test", &hit));
  ASSERT_TRUE(cache.get("a.test", &hit));  // a is now the most recent
  EXPECT_TRUE(hit);
  ASSERT_TRUE(cache.get("c.test", &hit));  // evicts b
  EXPECT_FALSE(hit);
  ASSERT_TRUE(cache.get("a.test", &hit));
  EXPECT_TRUE(hit) << "a was used more recently than b";
  ASSERT_TRUE(cache.get("b.test", &hit));  // evicts c
  EXPECT_FALSE(hit) << "b was evicted";
  EXPECT_EQ(cache.generated(), 4u);
  ASSERT_TRUE(cache.get("a.test", &hit));
  EXPECT_TRUE(hit);
  ASSERT_TRUE(cache.get("c.test", &hit));
  EXPECT_FALSE(hit) << "c was evicted";
}

// The leaf outlives its time in the cache, so a cached leaf is never expired.
TEST_F(LeafTest, LeafValidityOutlastsTheCacheAge) {
  LeafCache cache(ca, 16);
  auto ctx = cache.get("a.test");
  ASSERT_TRUE(ctx);
  X509* leaf = leaf_of(*ctx);
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(leaf)), 1);
  EXPECT_GE(days, 29);
  EXPECT_GT(std::chrono::hours(24) * days, LeafCache::kMaxAge + std::chrono::hours(24 * 7));
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(leaf)), 0);
}

TEST_F(LeafTest, OldEntriesAreMadeAnew) {
  LeafCache cache(ca, 16, std::chrono::seconds(0));
  bool hit = true;
  auto first = cache.get("a.test", &hit);
  ASSERT_TRUE(first);
  EXPECT_FALSE(hit);
  auto second = cache.get("a.test", &hit);
  ASSERT_TRUE(second);
  EXPECT_FALSE(hit);
  EXPECT_NE(first->get(), second->get());
  EXPECT_EQ(cache.generated(), 2u);
  EXPECT_EQ(verify(leaf_of(*second), ca.cert.get(), "a.test"), 0);
}

TEST_F(LeafTest, LeavesShareOneKeyAndHaveDistinctSerials) {
  LeafCache cache(ca, 16);
  auto a = cache.get("a.test");
  auto b = cache.get("b.test");
  ASSERT_TRUE(a && b);
  X509* la = leaf_of(*a);
  X509* lb = leaf_of(*b);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(la), X509_get0_pubkey(lb)), 1);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(la), X509_get0_serialNumber(lb)), 0);
}

// A real handshake in memory: a client trusting only the CA, checking the host
// name and offering h2 and http/1.1, gets http/1.1.
TEST_F(LeafTest, HandshakeWithTheLeafContext) {
  LeafCache cache(ca, 16);
  auto ctx = cache.get("api.example.com");
  ASSERT_TRUE(ctx);

  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca.cert.get());
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
  static const unsigned char kProtos[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  ASSERT_EQ(SSL_CTX_set_alpn_protos(cctx, kProtos, sizeof kProtos), 0);
  SSL* client = SSL_new(cctx);
  SSL* server = SSL_new((*ctx)->native_handle());
  BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
  BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
  SSL_set_bio(client, c_in, c_out);
  SSL_set_bio(server, s_in, s_out);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  SSL_set_tlsext_host_name(client, "api.example.com");
  SSL_set1_host(client, "api.example.com");
  auto move = [](BIO* from, BIO* to) {
    char buf[4096];
    int n;
    while ((n = BIO_read(from, buf, sizeof buf)) > 0) BIO_write(to, buf, n);
  };
  bool c_done = false, s_done = false;
  for (int round = 0; round < 20 && !(c_done && s_done); ++round) {
    if (!c_done) c_done = SSL_do_handshake(client) == 1;
    move(c_out, s_in);
    if (!s_done) s_done = SSL_do_handshake(server) == 1;
    move(s_out, c_in);
  }
  EXPECT_TRUE(c_done && s_done);
  EXPECT_EQ(SSL_get_verify_result(client), X509_V_OK);
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(client, &alpn, &alpn_len);
  ASSERT_NE(alpn, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(alpn), alpn_len), "http/1.1");
  EXPECT_GE(SSL_version(client), TLS1_2_VERSION);
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(cctx);
}

}  // namespace
}  // namespace brig::warden
