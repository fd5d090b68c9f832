#include "watch.h"

#include <vector>

namespace brig::warden {

bool still_allowed(const Snapshot& snap, const Admitted& a) {
  const CellState* cell = snap.cell_named(a.cell);
  if (!cell) return false;
  if (a.host_service) {
    const state::HostServiceEntry* s = cell->host_service(a.host_service->name);
    return s && *s == *a.host_service;
  }
  if (!cell->policy->evaluate({a.host, a.port, a.method, a.path}).allowed()) return false;
  return !a.passthrough || cell->policy->passthrough(a.host);
}

std::shared_ptr<Watches::Entry> Watches::add(Admitted a, asio::any_io_executor ex) {
  auto e = std::make_shared<Entry>();
  e->admitted = std::move(a);
  e->executor = std::move(ex);
  std::lock_guard lock(mu_);
  entries_.emplace(e.get(), e);
  return e;
}

void Watches::remove(const std::shared_ptr<Entry>& e) {
  std::lock_guard lock(mu_);
  entries_.erase(e.get());
}

std::size_t Watches::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::size_t Watches::revoke_if_denied(const Snapshot& snap) {
  std::vector<std::shared_ptr<Entry>> denied;
  {
    std::lock_guard lock(mu_);
    for (const auto& [p, e] : entries_) {
      if (e->revoked_by.load() == 0 && !still_allowed(snap, e->admitted)) denied.push_back(e);
    }
  }
  for (const auto& e : denied) {
    std::uint64_t none = 0;
    if (!e->revoked_by.compare_exchange_strong(none, snap.generation)) continue;
    if (const CellState* c = snap.cell_named(e->admitted.cell)) c->metrics->revoked.fetch_add(1);
    // `close` belongs to the connection's executor: read and run it there.
    asio::post(e->executor, [e] {
      if (e->close) e->close();
    });
  }
  return denied.size();
}

std::string revoked_reason(std::uint64_t generation) {
  return "closed by warden: policy generation " + std::to_string(generation) + " no longer allows this connection";
}

}  // namespace brig::warden
