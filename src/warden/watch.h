// Open connections and what they were allowed under, so that a policy change
// reaches them: when a new snapshot (a `policy set|rm`, a hot reload, a
// time-boxed grant lapsing) no longer allows what a connection was admitted
// for, warden closes it within the reload period. A raw byte tunnel
// (passthrough, WebSocket) is closed at once; a keep-alive connection (a
// MITM'd tunnel serving requests) when it is idle, so a request in flight
// finishes. Private to module warden.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "asio.h"
#include "snapshot.h"

namespace brig::warden {

// What a connection was admitted for: asked again of each new snapshot.
struct Admitted {
  std::string cell, host;
  std::uint16_t port = 443;
  std::string method, path;  // empty: a CONNECT-level question
  bool passthrough = false;  // it also relied on the cell declaring the host for passthrough
  // A host service (host_services.h): the cell must still declare exactly
  // this one; the policy is not asked.
  std::optional<state::HostServiceEntry> host_service;
};

class Watches {
 public:
  struct Entry {
    Admitted admitted;
    asio::any_io_executor executor;
    // Set by the connection (on its executor) while it can be closed now;
    // the revocation runs it there.
    std::function<void()> close;
    std::atomic<std::uint64_t> revoked_by{0};  // the generation that revoked it; 0: none
  };

  // Asks every watched connection's question again under `snap`; each one it
  // no longer allows is marked and, where it can be closed now, closed (on
  // its own executor). Returns how many were revoked. Thread-safe.
  std::size_t revoke_if_denied(const Snapshot& snap);

  std::shared_ptr<Entry> add(Admitted a, asio::any_io_executor ex);
  void remove(const std::shared_ptr<Entry>& e);
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<Entry*, std::shared_ptr<Entry>> entries_;
};

// Whether `snap` still allows `a`.
bool still_allowed(const Snapshot& snap, const Admitted& a);

// One connection's registration, for the lifetime of the object (in the
// connection's coroutine frame). All members are called on the connection's
// executor.
class Watch {
 public:
  Watch(Watches& all, Admitted a, asio::any_io_executor ex) : all_(all), e_(all.add(std::move(a), std::move(ex))) {}
  ~Watch() {
    e_->close = nullptr;
    all_.remove(e_);
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // While set, a revocation runs `close` at once; `nullptr`: the connection
  // is busy and looks at revoked() when it can.
  void closable(std::function<void()> close) { e_->close = std::move(close); }
  std::uint64_t revoked() const { return e_->revoked_by.load(); }
  const Admitted& admitted() const { return e_->admitted; }

 private:
  Watches& all_;
  std::shared_ptr<Watches::Entry> e_;
};

// The reason a revoked connection's log record gives.
std::string revoked_reason(std::uint64_t generation);

}  // namespace brig::warden
