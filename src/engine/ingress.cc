#include "ingress.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "brig/core/strings.h"
#include "brig/engine/podman.h"
#include "brig/engine/secrets.h"

namespace brig::engine::ingress {

std::string token_secret(const std::string& cell) { return cell + "-ingress-token"; }

std::vector<state::IngressRoute> routes(const spec::CellSpec& s) {
  std::vector<state::IngressRoute> out;
  if (!s.ingress.has()) return out;
  for (const auto& e : *s.ingress) out.push_back({e.name, e.port, e.path_prefix});
  return out;
}

std::vector<state::IngressRoute> routes(const CellRecord& rec) {
  std::vector<state::IngressRoute> out;
  if (!rec.spec.is_object()) return out;
  auto it = rec.spec.find("ingress");
  if (it == rec.spec.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (!e.is_object()) continue;
    state::IngressRoute r;
    r.name = e.value("name", "");
    r.port = e.value("port", 0);
    r.path_prefix = e.value("path_prefix", "/");
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Url> urls(const HostConfig& cfg, const std::string& cell, const std::vector<state::IngressRoute>& routes) {
  auto publish = parse_publish_address(cfg.ingress_publish);
  const int port = publish ? publish->port : 8443;
  const std::string authority = cell + "." + cfg.ingress_domain + (port == 443 ? "" : ":" + std::to_string(port));
  std::vector<Url> out;
  for (const auto& r : routes) out.push_back({r.name, r.port, r.path_prefix, "https://" + authority + r.path_prefix});
  return out;
}

Result<Token> read_token(const Paths& paths, const std::string& cell) {
  const std::string name = token_secret(cell);
  const std::string fix = "openssl rand -hex 32 | brig secrets add " + name + " -";
  auto fp = secret_fingerprint(paths, name);
  if (!fp) return fp.error().with_exit_code(125);
  if (!*fp) {
    return Error(Errc::not_found, "cell " + cell + " declares ingress, but the secret " + name + " does not exist", fix)
        .with_exit_code(125);
  }
  if ((*fp)->size == 0) {
    return Error(Errc::invalid, "cell " + cell + " declares ingress, but the secret " + name + " is empty", fix)
        .with_exit_code(125);
  }
  return Token{(*fp)->sha256_hex, (*fp)->size};
}

std::optional<std::string> short_token_warning(const std::string& cell, const Token& t) {
  if (t.chars >= kMinTokenChars) return std::nullopt;
  return "the ingress token " + token_secret(cell) + " is only " + std::to_string(t.chars) + " characters (use at least " +
         std::to_string(kMinTokenChars) + ": openssl rand -hex 32 | brig secrets add " + token_secret(cell) + " -)";
}

std::string cell_address(const Podman& podman, const CellRecord& rec, bool inspect) {
  if (inspect) {
    auto out = podman.run({"container", "inspect", "--format",
                           "{{(index .NetworkSettings.Networks \"" + network_of(rec) + "\").IPAddress}}",
                           cell_container(rec.name)});
    if (out && out->success()) {
      const std::string ip(str::trim(out->out));
      in_addr a{};
      if (::inet_pton(AF_INET, ip.c_str(), &a) == 1) return ip;
    }
  }
  return rec.subnet.cell_ip();
}

state::IngressCell entry(const CellRecord& rec, const Token& token, const std::string& address) {
  state::IngressCell e;
  e.address = address;
  e.running = true;
  e.token_sha256 = token.sha256;
  e.routes = routes(rec);
  return e;
}

std::string describe(const HostConfig& cfg, const CellRecord& rec) {
  std::string out;
  for (const auto& u : urls(cfg, rec.name, routes(rec))) {
    out += "ingress: " + u.url + " (route " + u.name + " -> port " + std::to_string(u.port) + ")\n";
  }
  return out;
}

}  // namespace brig::engine::ingress
