// Internal to src/spec: the YAML reader the parse*.cc files share. yaml-cpp
// stays private to the spec module; the public entry points are in brig/spec/parse.h.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "brig/core/error.h"
#include "brig/core/strings.h"
#include "brig/spec/cell_spec.h"
#include "brig/spec/diagnostics.h"

namespace brig::spec::detail {

// Reads typed values out of YAML nodes, collecting every shape error as a
// diagnostic with file:line instead of stopping at the first.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  // An implicit null ("key:" with nothing after it) is marked at the next
  // token, often the next key; report it on its own key's line instead.
  Origin at(const YAML::Node& n) const {
    if (n.IsNull() && key_line_ > 0) return Origin::file(file_, key_line_);
    return Origin::file(file_, n.Mark().line + 1);
  }
  void error(const YAML::Node& n, std::string field, std::string msg) {
    diags_.push_back({at(n), std::move(field), std::move(msg)});
  }
  Diagnostics& diags() { return diags_; }
  const std::string& file() const { return file_; }

  static std::string kind(const YAML::Node& n) {
    if (n.IsMap()) return "a mapping";
    if (n.IsSequence()) return "a list";
    if (n.IsNull()) return "nothing";
    return "a scalar";
  }

  std::optional<std::string> scalar(const YAML::Node& n, const std::string& field, const char* want) {
    if (!n.IsScalar()) {
      error(n, field, std::string("expected ") + want + ", got " + kind(n));
      return std::nullopt;
    }
    return n.Scalar();
  }

  // A number written bare or quoted, normalised to its shortest decimal form
  // ("2" for 2, 2.0 and "2"; "1.5" for 1.50).
  std::optional<std::string> number_or_string(const YAML::Node& n, const std::string& field, const char* want) {
    auto s = scalar(n, field, want);
    if (!s) return s;
    double d = 0;
    auto t = std::string(str::trim(*s));
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (ec == std::errc() && p == t.data() + t.size() && std::isfinite(d)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.15g", d);
      return std::string(buf);
    }
    return t;
  }

  std::optional<std::int64_t> integer(const YAML::Node& n, const std::string& field) {
    auto s = scalar(n, field, "an integer");
    if (!s) return std::nullopt;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || p != s->data() + s->size()) {
      error(n, field, "expected an integer, got " + str::quote(*s));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(const YAML::Node& n, const std::string& field) {
    auto s = scalar(n, field, "true or false");
    if (!s) return std::nullopt;
    if (*s == "true") return true;
    if (*s == "false") return false;
    error(n, field, "expected true or false, got " + str::quote(*s));
    return std::nullopt;
  }

  std::optional<StringList> string_list(const YAML::Node& n, const std::string& field) {
    if (!n.IsSequence()) {
      error(n, field, "expected a list, got " + kind(n));
      return std::nullopt;
    }
    StringList out;
    bool ok = true;
    for (std::size_t i = 0; i < n.size(); ++i) {
      auto s = scalar(n[i], field + "[" + std::to_string(i) + "]", "a string");
      if (s) out.push_back(*s); else ok = false;
    }
    return ok ? std::optional(out) : std::nullopt;
  }

  std::optional<StringMap> string_map(const YAML::Node& n, const std::string& field) {
    if (!n.IsMap()) {
      error(n, field, "expected a mapping of names to values, got " + kind(n));
      return std::nullopt;
    }
    StringMap out;
    bool ok = true;
    for (const auto& kv : n) {
      auto key = kv.first.Scalar();
      auto v = scalar(kv.second, field + "." + key, "a string value");
      if (!v) { ok = false; continue; }
      if (out.count(key)) error(kv.first, field, "duplicate key " + str::quote(key));
      out[key] = *v;
    }
    return ok ? std::optional(out) : std::nullopt;
  }

  // Visits each key of a mapping, reporting unknown keys with a did-you-mean.
  using Handler = std::function<void(const YAML::Node& value, const std::string& field)>;
  bool each_key(const YAML::Node& map, const std::string& prefix,
                const std::vector<std::pair<std::string, Handler>>& handlers) {
    if (!map.IsMap()) {
      error(map, prefix, "expected a mapping, got " + kind(map));
      return false;
    }
    std::vector<std::string> names;
    for (const auto& h : handlers) names.push_back(h.first);
    std::vector<std::string> seen;
    for (const auto& kv : map) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
      const std::string field = prefix.empty() ? key : prefix + "." + key;
      auto it = std::find_if(handlers.begin(), handlers.end(), [&](const auto& h) { return h.first == key; });
      if (it == handlers.end()) {
        std::string msg = "unknown key " + str::quote(key);
        if (auto s = str::closest(key, names)) msg += "; did you mean " + str::quote(*s) + "?";
        else msg += "; known keys: " + str::join(names, ", ");
        error(kv.first, prefix, msg);
        continue;
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        error(kv.first, field, "key appears twice");
        continue;
      }
      seen.push_back(key);
      const int saved = key_line_;
      key_line_ = kv.first.Mark().line + 1;
      it->second(kv.second, field);
      key_line_ = saved;
    }
    return true;
  }

  // Field<T> setter bound to a node's line.
  template <class T>
  void put(Field<T>& f, std::optional<T> v, const YAML::Node& n) {
    if (v) f.set(std::move(*v), at(n));
  }

 private:
  std::string file_;
  Diagnostics diags_;
  int key_line_ = 0;  // line of the key whose value is being read
};

// The one YAML document of `text`; a syntax error or a second document is an
// Errc::invalid error with file:line.
Result<YAML::Node> load(std::string_view text, const std::string& filename);
// load(), and the document must be a mapping (`what` names it: "a cell spec");
// an empty file is an empty mapping.
Result<YAML::Node> load_map(std::string_view text, const std::string& filename, const char* what);

// parse_policy.cc: a policy block, either a cell spec's `policy:` or (with
// `document`) a whole policy file, which may also say `airgapped: true`.
void parse_policy_block(Reader& r, const YAML::Node& n, const std::string& prefix, PolicyBlock& out,
                        bool document = false);

}  // namespace brig::spec::detail
