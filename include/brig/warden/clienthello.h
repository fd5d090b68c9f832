// Reading the server name from a TLS ClientHello before deciding what to do
// with a CONNECT tunnel (MITM or passthrough).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace brig::warden {

struct ClientHello {
  enum class Status {
    complete,    // parsed; `sni` holds the server name (empty when absent)
    need_more,   // a valid prefix: read more bytes (up to `wanted`)
    not_tls,     // not a TLS handshake record
    malformed,   // a TLS record that does not parse
  };
  Status status = Status::need_more;
  std::string sni;          // lowercase as sent (no normalisation)
  std::size_t wanted = 5;   // bytes needed for the whole first record
};

// The largest ClientHello record accepted (one TLS record).
inline constexpr std::size_t kMaxClientHello = 16384 + 5;

// Parses the first TLS record in `data`. Never reads past data.size().
ClientHello parse_client_hello(std::string_view data);

}  // namespace brig::warden
