#include "tls.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/context.hpp>
#include <cstdio>

#include "brig/core/fs.h"
#include "brig/warden/netaddr.h"

namespace brig::warden {
namespace {

constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

PkeyPtr new_p256() { return PkeyPtr(EVP_EC_gen("P-256")); }

bool random_serial(X509* x) {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof buf) != 1) return false;
  buf[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(buf, sizeof buf, nullptr);
  bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  return ok;
}

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

std::string pem_of(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

std::string pem_of(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, kAlpn, sizeof kAlpn, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no http/1.1 offered: continue without ALPN
  }
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

void PkeyFree::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
void X509Free::operator()(X509* p) const { X509_free(p); }

std::string openssl_error() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Result<CertificateAuthority> CertificateAuthority::load_or_create(const std::string& dir) {
  const std::string crt = dir + "/ca.crt", key = dir + "/ca.key";
  const bool have_crt = fs::exists(crt), have_key = fs::exists(key);
  CertificateAuthority ca;
  if (have_crt && have_key) {
    auto c = fs::read_file(crt, 1 << 20);
    auto k = fs::read_file(key, 1 << 20);
    if (!c) return c.error();
    if (!k) return k.error();
    BIO* bc = BIO_new_mem_buf(c->data(), static_cast<int>(c->size()));
    BIO* bk = BIO_new_mem_buf(k->data(), static_cast<int>(k->size()));
    ca.cert.reset(PEM_read_bio_X509(bc, nullptr, nullptr, nullptr));
    ca.key.reset(PEM_read_bio_PrivateKey(bk, nullptr, nullptr, nullptr));
    BIO_free(bc);
    BIO_free(bk);
    if (!ca.cert || !ca.key) return Error(Errc::invalid, "cannot read the CA in " + dir + ": " + openssl_error());
    if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
      return Error(Errc::invalid, "the CA key in " + dir + " does not match ca.crt",
                   "restore the matching pair, or remove both files to create a new CA");
    }
    return ca;
  }
  if (have_crt || have_key) {
    return Error(Errc::invalid, "only one of ca.crt and ca.key exists in " + dir,
                 "restore the missing file, or remove both to create a new CA (cells must then be restarted)");
  }
  if (auto st = fs::make_dirs(dir, 0700); !st) return st.error();
  ca.key = new_p256();
  ca.cert.reset(X509_new());
  X509* x = ca.cert.get();
  bool ok = ca.key && x && X509_set_version(x, 2) && random_serial(x) &&
            X509_gmtime_adj(X509_getm_notBefore(x), -3600) && X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
  X509_NAME* name = X509_get_subject_name(x);
  ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("brig"), -1, -1, 0) &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("brig warden CA"), -1, -1, 0) &&
       X509_set_issuer_name(x, name) && X509_set_pubkey(x, ca.key.get()) &&
       add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
       add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
       add_ext(x, x, NID_subject_key_identifier, "hash") &&
       X509_sign(x, ca.key.get(), EVP_sha256()) > 0;
  if (!ok) return Error(Errc::failed, "creating the CA failed: " + openssl_error());
  if (auto st = fs::write_atomic(key, pem_of(ca.key.get()), 0600); !st) return st.error();
  if (auto st = fs::write_atomic(crt, pem_of(x), 0644); !st) return st.error();
  return ca;
}

struct LeafCache::Entry {
  std::chrono::steady_clock::time_point made = std::chrono::steady_clock::now();
  std::once_flag once;
  Result<std::shared_ptr<boost::asio::ssl::context>> ctx = Error(Errc::failed, "not made");
};

LeafCache::LeafCache(const CertificateAuthority& ca, std::size_t capacity, std::chrono::steady_clock::duration max_age)
    : ca_(ca), leaf_key_(new_p256()), capacity_(capacity), max_age_(max_age) {}

LeafCache::~LeafCache() = default;

std::size_t LeafCache::generated() const {
  std::lock_guard lock(mu_);
  return generated_;
}

Result<std::shared_ptr<boost::asio::ssl::context>> LeafCache::get(const std::string& host, bool* hit) {
  std::shared_ptr<Entry> e;
  bool fresh = false;
  {
    std::lock_guard lock(mu_);
    auto it = map_.find(host);
    if (it != map_.end() && std::chrono::steady_clock::now() - it->second.first->made >= max_age_) {
      lru_.erase(it->second.second);  // about to expire: make a new one
      map_.erase(it);
      it = map_.end();
    }
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      e = it->second.first;
    } else {
      e = std::make_shared<Entry>();
      lru_.push_front(host);
      map_.emplace(host, std::make_pair(e, lru_.begin()));
      fresh = true;
      while (map_.size() > capacity_) {
        map_.erase(lru_.back());
        lru_.pop_back();
      }
    }
  }
  if (hit) *hit = !fresh;
  // The first caller signs; concurrent callers for the same host wait here.
  std::call_once(e->once, [&] {
    e->ctx = make(host);
    std::lock_guard lock(mu_);
    ++generated_;
  });
  return e->ctx;
}

Result<std::shared_ptr<boost::asio::ssl::context>> LeafCache::make(const std::string& host) {
  X509Ptr cert(X509_new());
  X509* x = cert.get();
  const bool is_ip = parse_ip(host).has_value();
  const std::string san = (is_ip ? "IP:" : "DNS:") + host;
  bool ok = x && X509_set_version(x, 2) && random_serial(x) && X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
            X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
  X509_NAME* name = X509_get_subject_name(x);
  if (ok && host.size() <= 64) {
    ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
  }
  ok = ok && X509_set_issuer_name(x, X509_get_subject_name(ca_.cert.get())) && X509_set_pubkey(x, leaf_key_.get()) &&
       add_ext(x, ca_.cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
       add_ext(x, ca_.cert.get(), NID_key_usage, "critical,digitalSignature") &&
       add_ext(x, ca_.cert.get(), NID_ext_key_usage, "serverAuth") &&
       add_ext(x, ca_.cert.get(), NID_authority_key_identifier, "keyid:always") &&
       add_ext(x, ca_.cert.get(), NID_subject_alt_name, san.c_str()) &&
       X509_sign(x, ca_.key.get(), EVP_sha256()) > 0;
  if (!ok) return Error(Errc::failed, "signing a certificate for " + host + " failed: " + openssl_error());

  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return Error(Errc::failed, "SSL_CTX_new: " + openssl_error());
  auto ctx = std::make_shared<boost::asio::ssl::context>(raw);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate(raw, x) != 1 || SSL_CTX_use_PrivateKey(raw, leaf_key_.get()) != 1 ||
      SSL_CTX_add1_chain_cert(raw, ca_.cert.get()) != 1) {
    return Error(Errc::failed, "setting up TLS for " + host + ": " + openssl_error());
  }
  SSL_CTX_set_alpn_select_cb(raw, select_alpn, nullptr);
  return ctx;
}

Result<std::shared_ptr<boost::asio::ssl::context>> server_context_from_files(const std::string& cert,
                                                                             const std::string& key) {
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return Error(Errc::failed, "SSL_CTX_new: " + openssl_error());
  auto ctx = std::make_shared<boost::asio::ssl::context>(raw);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(raw, cert.c_str()) != 1) {
    return Error(Errc::invalid, "cannot use the ingress certificate " + cert + ": " + openssl_error(),
                 "brig config set ingress_cert FILE (a PEM certificate chain)");
  }
  if (SSL_CTX_use_PrivateKey_file(raw, key.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(raw) != 1) {
    return Error(Errc::invalid, "cannot use the ingress key " + key + " with " + cert + ": " + openssl_error(),
                 "brig config set ingress_key FILE (the PEM key of ingress_cert)");
  }
  SSL_CTX_set_alpn_select_cb(raw, select_alpn, nullptr);
  return ctx;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace brig::warden

namespace brig::warden {

Status ensure_ca(const std::string& dir) {
  auto ca = CertificateAuthority::load_or_create(dir);
  if (!ca) return ca.error();
  return {};
}

}  // namespace brig::warden
