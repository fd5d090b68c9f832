#include "secrets.h"

#include <algorithm>

#include "brig/core/strings.h"

namespace brig::warden {
namespace {

std::string hosts_text(const CellSecret& s) { return str::join(s.secret.hosts, ", "); }

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Rewrites the header values of `msg` by `f` (value -> new value), keeping
// the fields' order; nothing changes when `f` changes no value.
template <class Fields, class F>
void rewrite_values(Fields& msg, F&& f) {
  std::vector<std::pair<std::string, std::string>> all;
  bool changed = false;
  for (const auto& field : msg) {
    std::string v(field.value());
    std::string n = f(v);
    changed = changed || n != v;
    all.emplace_back(std::string(field.name_string()), std::move(n));
  }
  if (!changed) return;
  for (auto it = msg.begin(); it != msg.end();) it = msg.erase(it);
  for (auto& [name, value] : all) msg.insert(name, value);
}

}  // namespace

NeedleScanner::NeedleScanner(std::span<const std::string> needles) : needles_(needles) {
  for (const auto& n : needles_) longest_ = std::max(longest_, n.size());
}

std::optional<std::size_t> NeedleScanner::feed(std::string_view piece) {
  if (hit_ || needles_.empty() || piece.empty()) return hit_;
  // A needle split across pieces lies within the carried tail and the head
  // of this piece; any other lies within the piece itself.
  const std::size_t keep = longest_ - 1;
  std::string seam = carry_;
  seam.append(piece.substr(0, keep));
  for (std::size_t i = 0; i < needles_.size(); ++i) {
    if (seam.find(needles_[i]) != std::string::npos || piece.find(needles_[i]) != std::string_view::npos) {
      return hit_ = i;
    }
  }
  if (piece.size() >= keep) {
    carry_.assign(piece.substr(piece.size() - keep));
  } else {
    carry_.append(piece);
    if (carry_.size() > keep) carry_.erase(0, carry_.size() - keep);
  }
  return std::nullopt;
}

std::vector<const CellSecret*> placeholders_in(std::string_view text, const std::vector<CellSecret>& secrets) {
  std::vector<const CellSecret*> out;
  if (text.find(state::kPlaceholderPrefix) == std::string_view::npos) return out;
  for (const auto& s : secrets)
    if (text.find(s.secret.placeholder) != std::string_view::npos) out.push_back(&s);
  return out;
}

Injection inject(Request& req, std::string& path, const std::vector<CellSecret>& secrets, std::string_view host,
                 bool tls) {
  Injection r;
  if (secrets.empty()) return r;
  // Where each placeholder is: the header values, the path, the query.
  std::vector<const CellSecret*> found;
  auto add = [&](const std::vector<const CellSecret*>& l) {
    for (auto* s : l)
      if (std::find(found.begin(), found.end(), s) == found.end()) found.push_back(s);
  };
  for (const auto& field : req) add(placeholders_in(field.value(), secrets));
  const std::size_t q = path.find('?');
  const std::string_view bare = std::string_view(path).substr(0, q);
  if (auto in_path = placeholders_in(bare, secrets); !in_path.empty()) {
    r.refused = "the URL path carries the placeholder of secret " + in_path.front()->secret.name +
                ": warden injects secrets only into headers and the URL query";
    return r;
  }
  if (q != std::string::npos) add(placeholders_in(std::string_view(path).substr(q), secrets));
  if (found.empty()) return r;
  for (const CellSecret* s : found) {
    if (!s->for_host(host)) {
      r.refused = "the request carries the placeholder of secret " + s->secret.name + ", which warden injects only into requests to " +
                  hosts_text(*s);
      return r;
    }
    if (!tls && !s->secret.allow_plaintext) {
      r.refused = "the request carries the placeholder of secret " + s->secret.name +
                  " over plain HTTP: warden injects it only over HTTPS (allow_plaintext: true on the secret allows HTTP)";
      return r;
    }
  }
  auto swap_in = [&](std::string v) {
    for (const CellSecret* s : found) v = replace_all(std::move(v), s->secret.placeholder, s->secret.value);
    return v;
  };
  rewrite_values(req, swap_in);
  if (q != std::string::npos) path = path.substr(0, q) + swap_in(path.substr(q));
  r.injected = std::move(found);
  return r;
}

void scrub_response_head(Response& res, const std::vector<const CellSecret*>& injected) {
  rewrite_values(res, [&](std::string v) {
    for (const CellSecret* s : injected) v = replace_all(std::move(v), s->secret.value, s->secret.placeholder);
    return v;
  });
}

std::optional<std::string> refuse_in_connect_head(const http::request_header<>& head, const std::vector<CellSecret>& secrets) {
  for (const auto& field : head) {
    if (auto l = placeholders_in(field.value(), secrets); !l.empty()) {
      return "the CONNECT request carries the placeholder of secret " + l.front()->secret.name +
             ": warden never injects secrets into a tunnel's head";
    }
  }
  return std::nullopt;
}

std::string body_refusal(const CellSecret& s) {
  return "the request body carries the placeholder of secret " + s.secret.name +
         ": warden injects secrets only into headers and the URL query";
}

}  // namespace brig::warden
