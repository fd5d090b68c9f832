// TCP host services: a listener on warden's side for each port some cell
// declares a tcp host service on, added and removed as snapshots come, and
// each accepted connection relayed to the service through the host relay.
// Private to module warden.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "asio.h"

namespace brig::warden {

struct Shared;

class HostTcpListeners {
 public:
  // Listeners on `ctx` (its thread runs every call below but
  // snapshot_published). Nothing may publish a snapshot once it is gone.
  HostTcpListeners(asio::io_context& ctx, Shared& sh) : ctx_(ctx), sh_(sh), retry_(ctx) {}
  ~HostTcpListeners();
  HostTcpListeners(const HostTcpListeners&) = delete;
  HostTcpListeners& operator=(const HostTcpListeners&) = delete;

  // From any thread (PolicyStore's listener): reconcile on the io_context's thread.
  void snapshot_published();
  // Opens a listener for each port the current snapshot declares that has
  // none, and closes those it no longer declares. A port that cannot be
  // bound is logged and tried again 2 s later (and at the next snapshot).
  void reconcile();
  // SIGTERM: closes every listener and opens none again.
  void close_all();

 private:
  asio::io_context& ctx_;
  Shared& sh_;
  std::map<std::uint16_t, std::shared_ptr<Acceptor>> open_;
  asio::steady_timer retry_;
  bool closed_ = false;
};

}  // namespace brig::warden
