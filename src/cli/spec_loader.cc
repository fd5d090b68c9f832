#include "spec_loader.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>

#include "brig/core/fs.h"
#include "brig/core/hostname.h"
#include "brig/spec/parse.h"
#include "brig/spec/validate.h"
#include "brig/vm/host_socket_bridge.h"
#include "brig/vm/thin_client.h"

namespace brig::cli {
namespace {

constexpr std::size_t kMaxSpecBytes = 1u << 20;

}  // namespace

spec::Probe::Kind HostProbe::kind(const std::string& path) const {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Kind::missing;
  if (S_ISLNK(st.st_mode)) return Kind::symlink;
  if (S_ISSOCK(st.st_mode)) return Kind::socket;
  if (S_ISDIR(st.st_mode)) return Kind::directory;
  if (S_ISREG(st.st_mode)) return Kind::file;
  return Kind::other;
}

std::optional<std::string> HostProbe::realpath(const std::string& path) const {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return std::nullopt;
  return std::string(buf);
}

namespace {

Result<std::string> read_cell_text(const std::string& path) {
  auto text = fs::read_file(path, kMaxSpecBytes);
  if (!text) {
    return text.error().with_fix(text.error().code() == Errc::not_found ? "check the path given to --file" : "");
  }
  return text;
}

}  // namespace

Result<spec::CellSpec> read_cell_file(const std::string& path) {
  auto text = read_cell_text(path);
  if (!text) return text.error();
  return spec::parse_cell(*text, path);
}

void add_allow_flags(spec::CellSpec& s, const std::vector<std::string>& allow, spec::Diagnostics& bad) {
  if (allow.empty()) return;
  spec::PolicyBlock b;
  for (const auto& a : allow) {
    spec::AllowEntry e;
    e.origin = spec::Origin::flag("--allow");
    if (auto why = spec::check_policy_host(a, spec::PolicyList::allow, "--allow")) {
      bad.push_back({spec::Origin::flag("--allow"), "", why->message});
      continue;
    }
    auto parts = hostname::split_authority(a);  // accepted above
    e.domain = std::string(parts->host);  // as written ("*.x.com"); validation judges it
    e.port = parts->port;
    b.allow.push_back(std::move(e));
  }
  if (!b.allow.empty()) s.policy.set(std::move(b), spec::Origin::flag("--allow"));
}

namespace {

// `text` (named `source` in messages) resolved as a cell file is.
Result<spec::Resolved> resolve_text(const Paths& paths, const std::optional<std::string>& text, const std::string& source,
                                    const spec::CellSpec& flags, const spec::Diagnostics& flag_diags) {
  static const HostProbe probe;
  spec::Sources src;
  if (text) {
    auto yaml = spec::parse_cell_all(*text, source);
    if (!yaml) return yaml.error();
    src.yaml = std::move(yaml->spec);
    src.diags = std::move(yaml->diags);
  }
  src.diags.insert(src.diags.end(), flag_diags.begin(), flag_diags.end());
  src.flags = flags;
  src.probe = &probe;
  src.from_mac = vm::forwarded_from_mac(std::getenv(vm::kForwardedEnv));
  if (src.from_mac) {
    auto bridges = vm::parse_bridges_env(std::getenv(vm::kBridgesEnv));
    if (!bridges) return bridges.error();
    src.host_socket_bridges = std::move(*bridges);
  }
  src.user_profile_names = fs::list_names(paths.profiles_dir(), ".yaml");
  src.user_profile = [&paths](const std::string& name) -> Result<std::optional<spec::CellSpec>> {
    if (name.empty() || name.find('/') != std::string::npos || name.front() == '.') {
      return std::optional<spec::CellSpec>();
    }
    const std::string path = paths.profiles_dir() + "/" + name + ".yaml";
    if (!fs::exists(path)) return std::optional<spec::CellSpec>();
    auto profile = fs::read_file(path, kMaxSpecBytes);
    if (!profile) return profile.error();
    auto layer = spec::parse_profile(*profile, path, name);
    if (!layer) return layer.error();
    return std::optional(std::move(*layer));
  };
  return spec::resolve(src);
}

}  // namespace

Result<spec::Resolved> load_spec(const Paths& paths, const std::optional<std::string>& file,
                                 const spec::CellSpec& flags, const spec::Diagnostics& flag_diags) {
  std::optional<std::string> text;
  if (file) {
    auto read = read_cell_text(*file);
    if (!read) return read.error();
    text = std::move(*read);
  }
  return resolve_text(paths, text, file ? *file : "", flags, flag_diags);
}

Result<spec::Resolved> load_spec_text(const Paths& paths, const std::string& text, const std::string& source,
                                      const spec::CellSpec& flags, const spec::Diagnostics& flag_diags) {
  return resolve_text(paths, text, source, flags, flag_diags);
}

}  // namespace brig::cli
