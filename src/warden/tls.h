// brig's CA and the leaf certificates warden presents inside MITM tunnels.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "brig/core/error.h"

namespace boost::asio::ssl {
class context;
}

namespace brig::warden {

struct PkeyFree { void operator()(EVP_PKEY* p) const; };
struct X509Free { void operator()(X509* p) const; };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

struct CertificateAuthority {
  X509Ptr cert;
  PkeyPtr key;

  // Loads ca.crt/ca.key from `dir`, creating them (P-256, CA:TRUE pathlen 0,
  // keyCertSign, key 0600) if both are absent. One present without the other
  // is an error rather than a silent replacement.
  static Result<CertificateAuthority> load_or_create(const std::string& dir);
};

// Leaf certificates per host, signed by the CA with one shared P-256 key, each
// in its own server SSL context (ALPN http/1.1), kept in an LRU. Concurrent
// first requests for a host wait for one certificate. Leaves are valid for 30
// days; an entry older than `max_age` is made anew, so a long-running warden
// never presents an expired leaf.
class LeafCache {
 public:
  static constexpr std::chrono::hours kMaxAge{20 * 24};
  LeafCache(const CertificateAuthority& ca, std::size_t capacity,
            std::chrono::steady_clock::duration max_age = kMaxAge);
  ~LeafCache();

  // The context for `host` (a canonical host name or IP literal); `hit` says
  // whether it was cached.
  Result<std::shared_ptr<boost::asio::ssl::context>> get(const std::string& host, bool* hit = nullptr);

  std::size_t generated() const;  // leaf certificates made so far

 private:
  struct Entry;
  Result<std::shared_ptr<boost::asio::ssl::context>> make(const std::string& host);

  const CertificateAuthority& ca_;
  PkeyPtr leaf_key_;
  std::size_t capacity_;
  std::chrono::steady_clock::duration max_age_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;  // front: most recent
  std::unordered_map<std::string, std::pair<std::shared_ptr<Entry>, std::list<std::string>::iterator>> map_;
  std::size_t generated_ = 0;
};

// A server context (TLS 1.2+, ALPN http/1.1) from a PEM certificate chain
// and its key, as a user supplies for ingress on a real domain.
Result<std::shared_ptr<boost::asio::ssl::context>> server_context_from_files(const std::string& cert,
                                                                             const std::string& key);

// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);
// Whether two equal-length strings are equal, in time that does not depend
// on where they differ (different lengths: false at once).
bool equal_constant_time(std::string_view a, std::string_view b);

// The OpenSSL error queue as text, for messages.
std::string openssl_error();

}  // namespace brig::warden
