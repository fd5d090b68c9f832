// brig image build|pull|list|rm|verify, and the digest pins brig run enforces.
#include "brig/engine/images.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <sys/stat.h>

#include "brig/core/fs.h"
#include "brig/core/strings.h"
#include "brig/engine/build_context.h"
#include "brig/engine/cells.h"
#include "brig/engine/host.h"
#include "brig/engine/podman.h"
#include "brig/engine/subnets.h"
#include "brig/spec/validate.h"
#include "brig/state/cell_policy.h"
#include "cell_files.h"
#include "cell_network.h"
#include "rollback.h"

namespace brig::engine {

nlohmann::json ImageInfo::to_json() const {
  return {{"id", id}, {"digest", digest}, {"names", names}, {"repo_digests", repo_digests},
          {"size", size}, {"created", created}};
}

std::string default_build_tag(const std::string& context_dir) {
  std::string dir = context_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty() || dir == "." || dir == ".." || str::split(dir, '/').back() == "..") {
    std::error_code ec;
    auto real = std::filesystem::weakly_canonical(dir.empty() ? "." : dir, ec);
    if (!ec) dir = real.string();
  }
  return spec::local_image_name(dir) + ":latest";
}

namespace {

bool lower_alnum(char c) { return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)); }

// One path component of a repository: [a-z0-9]+ with single . _ or - (or __) between.
bool repo_component_ok(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (lower_alnum(c[i])) continue;
    if (c[i] != '.' && c[i] != '_' && c[i] != '-') return false;
    if (i + 1 < c.size() && !lower_alnum(c[i + 1]) && !(c[i] == '_' && c[i + 1] == '_')) {
      if (c[i] != '-' || c[i + 1] != '-') return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> image_tag_problem(const std::string& tag) {
  const std::string fix = "; use NAME[:TAG] such as localhost/agent:latest";
  if (tag.empty()) return "the tag is empty" + fix;
  if (tag.size() > 255) return "the tag is longer than 255 characters";
  if (tag.find('@') != std::string::npos) return "a tag cannot hold a digest (" + tag + ")" + fix;
  auto ref = parse_image_ref(tag);
  if (tag.back() == ':') return "the tag after ':' is empty in " + str::quote(tag) + fix;
  if (!ref.tag.empty()) {
    const bool ok = ref.tag.size() <= 128 &&
                    (std::isalnum(static_cast<unsigned char>(ref.tag[0])) || ref.tag[0] == '_') &&
                    std::all_of(ref.tag.begin(), ref.tag.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
                    });
    if (!ok) return "invalid tag " + str::quote(ref.tag) + " in " + str::quote(tag) + fix;
  }
  auto parts = str::split(ref.name, '/');
  for (std::size_t i = 0; i < parts.size(); ++i) {
    // The first component of several may be a registry host[:port].
    if (i == 0 && parts.size() > 1 &&
        (parts[0].find_first_of(".:") != std::string::npos || parts[0] == "localhost")) {
      continue;
    }
    if (!repo_component_ok(parts[i])) return "invalid image name " + str::quote(tag) + fix + " (lowercase letters, digits, . _ -)";
  }
  return std::nullopt;
}

ImageRef parse_image_ref(const std::string& ref) {
  ImageRef r;
  std::string rest = ref;
  if (auto at = rest.find('@'); at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest.resize(at);
  }
  // A ':' after the last '/' is a tag; one before it is a registry's port.
  auto colon = rest.rfind(':');
  auto slash = rest.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    r.tag = rest.substr(colon + 1);
    rest.resize(colon);
  }
  r.name = rest;
  return r;
}

bool is_local_image(const std::string& ref) { return ref.rfind("localhost/", 0) == 0; }

std::optional<std::string> unpinned_image_warning(const std::string& image, const std::string& image_digest) {
  if (is_local_image(image) || !image_digest.empty() || !parse_image_ref(image).digest.empty()) return std::nullopt;
  return "image " + image + " is not pinned by digest: a registry can change what it names; pin it with " +
         image + "@sha256:... or image_digest: (brig image list shows the digest), or silence this with: " +
         "brig config set warn_unpinned_images false";
}

namespace {

// podman writes a bare name as the registry's: "agent" is "localhost/agent"
// for a local build, "docker.io/library/agent" when pulled. Compare the part
// both spell the same.
bool same_repository(const std::string& a, const std::string& b) {
  if (a == b) return true;
  auto tail = [](const std::string& longer, const std::string& shorter) {
    return longer.size() > shorter.size() && longer.compare(longer.size() - shorter.size(), shorter.size(), shorter) == 0 &&
           longer[longer.size() - shorter.size() - 1] == '/';
  };
  return tail(a, b) || tail(b, a);
}

}  // namespace

std::optional<std::string> pin_problem(const ImageRef& ref, const std::string& pin, const ImageInfo& local) {
  std::vector<std::string> have;
  const bool named = std::any_of(local.names.begin(), local.names.end(), [&](const std::string& n) {
    return same_repository(parse_image_ref(n).name, ref.name);
  });
  if (named && !local.digest.empty()) have.push_back(local.digest);
  for (const auto& rd : local.repo_digests) {
    auto r = parse_image_ref(rd);
    if (same_repository(r.name, ref.name)) have.push_back(r.digest);
  }
  if (std::find(have.begin(), have.end(), pin) != have.end()) return std::nullopt;
  const std::string found = have.empty() ? (local.digest.empty() ? std::string("none") : local.digest)
                                         : str::join(have, ", ");
  return "image " + ref.without_digest() + " has digest " + found + ", but it is pinned to " + pin;
}

namespace {

// One instruction of a Containerfile: its keyword (uppercase), its text with
// continuation lines joined, and the index of its last physical line (heredoc
// bodies included).
struct Instruction {
  std::string keyword, text;
  std::size_t last = 0;
};

// The heredoc words an instruction opens (<<EOF, <<-EOF, <<"EOF", <<'EOF'),
// in order, each with whether its end line may be indented (<<-).
std::vector<std::pair<std::string, bool>> heredocs(const std::string& text) {
  std::vector<std::pair<std::string, bool>> out;
  for (std::size_t at = text.find("<<"); at != std::string::npos; at = text.find("<<", at + 2)) {
    std::size_t k = at + 2;
    const bool dash = k < text.size() && text[k] == '-';
    if (dash) ++k;
    if (k < text.size() && (text[k] == '"' || text[k] == '\'')) ++k;
    std::string word;
    while (k < text.size() && (std::isalnum(static_cast<unsigned char>(text[k])) || text[k] == '_')) word += text[k++];
    if (!word.empty()) out.emplace_back(word, dash);
  }
  return out;
}

std::vector<Instruction> instructions(const std::vector<std::string>& lines) {
  std::vector<Instruction> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto t = str::trim(lines[i]);
    if (t.empty() || t.front() == '#') continue;
    Instruction ins;
    ins.keyword = std::string(t.substr(0, t.find_first_of(" \t")));
    for (auto& c : ins.keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string joined(t);
    while (!joined.empty() && joined.back() == '\\' && i + 1 < lines.size()) {
      joined.pop_back();
      ++i;
      auto next = str::trim(lines[i]);
      if (!next.empty() && next.front() == '#') {  // a comment inside a continued instruction
        joined += "\\";
        continue;
      }
      joined += " " + std::string(next);
    }
    ins.text = joined;
    if (ins.keyword == "RUN" || ins.keyword == "COPY" || ins.keyword == "ADD") {
      for (const auto& [word, dash] : heredocs(joined)) {
        while (i + 1 < lines.size()) {
          ++i;
          const std::string body = dash ? std::string(str::trim(lines[i])) : lines[i];
          if (body == word) break;
        }
      }
    }
    ins.last = i;
    out.push_back(std::move(ins));
  }
  return out;
}

std::vector<std::string> physical_lines(const std::string& text) {
  std::vector<std::string> lines = str::split(text, '\n');
  if (!text.empty() && text.back() == '\n') lines.pop_back();
  for (auto& l : lines) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  }
  return lines;
}

}  // namespace

std::string containerfile_with_args(const std::string& text, const std::vector<std::string>& args) {
  std::string decl;
  for (const auto& a : args) decl += "ARG " + a + "\n";
  const auto lines = physical_lines(text);
  std::vector<bool> after(lines.size(), false);
  for (const auto& ins : instructions(lines)) {
    if (ins.keyword == "FROM") after[ins.last] = true;
  }
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += lines[i] + "\n";
    if (after[i]) out += decl;
  }
  return out;
}

std::optional<std::string> containerfile_problem(const std::string& text) {
  for (const auto& ins : instructions(physical_lines(text))) {
    if (ins.keyword != "ADD") continue;
    std::vector<std::string> words;
    std::string rest = std::string(str::trim(std::string_view(ins.text).substr(3)));
    if (!rest.empty() && rest.front() == '[') {
      try {
        words = nlohmann::json::parse(rest).get<std::vector<std::string>>();
      } catch (const std::exception&) {
      }
    } else {
      for (const auto& w : str::split(rest, ' ')) {
        if (!w.empty()) words.push_back(w);
      }
    }
    std::vector<std::string> sources;
    for (const auto& w : words) {
      if (w.rfind("--", 0) != 0) sources.push_back(w);
    }
    if (!sources.empty()) sources.pop_back();  // the destination
    for (const auto& src : sources) {
      if (src.find("://") != std::string::npos || src.rfind("git@", 0) == 0) {
        return "ADD " + src + " would be fetched by podman on this host, outside the build's sandbox and warden";
      }
    }
  }
  return std::nullopt;
}

std::vector<std::string> image_build_args(const BuildPlan& p) {
  std::vector<std::string> a = {"podman", "build", "--file", p.containerfile, "--tag", p.tag, "--iidfile", p.iidfile,
                                // Images come from local storage or a registry the user pulled from:
                                // a build never pulls on its own.
                                "--pull=never", "--network", p.network,
                                // RUN steps in a container of `runtime`, whatever BUILDAH_ISOLATION says.
                                "--isolation", "oci"};
  // brig filtered the context already; podman must not apply an ignore file again.
  if (!p.ignorefile.empty()) a.insert(a.end(), {"--ignorefile", p.ignorefile});
  if (!p.dns.empty()) a.insert(a.end(), {"--dns", p.dns});
  if (!p.runtime.empty()) a.insert(a.end(), {"--runtime", p.runtime});
  for (const auto& f : p.runtime_flags) a.insert(a.end(), {"--runtime-flag", f});
  for (const auto& u : p.ulimits) a.insert(a.end(), {"--ulimit", u});
  for (const auto& [host, inside] : p.mounts) a.insert(a.end(), {"--volume", host + ":" + inside + ":ro"});
  for (const auto& b : p.build_args) a.insert(a.end(), {"--build-arg", b});
  if (p.no_cache) a.push_back("--no-cache");
  if (p.quiet) a.push_back("--quiet");
  a.push_back(p.staged);
  return a;
}

namespace {

Result<std::vector<ImageInfo>> parse_images(const std::string& text) {
  std::vector<ImageInfo> out;
  try {
    auto j = nlohmann::json::parse(text.empty() ? "[]" : text);
    if (!j.is_array()) j = nlohmann::json::array({j});
    for (const auto& e : j) {
      ImageInfo i;
      i.id = e.value("Id", "");
      i.digest = e.value("Digest", "");
      auto strings = [&](const char* key) {
        std::vector<std::string> v;
        if (e.contains(key) && e[key].is_array()) {
          for (const auto& s : e[key]) {
            if (s.is_string()) v.push_back(s.get<std::string>());
          }
        }
        return v;
      };
      // `podman images` says Names; `podman image inspect` says RepoTags.
      i.names = strings("Names");
      if (i.names.empty()) i.names = strings("RepoTags");
      i.repo_digests = strings("RepoDigests");
      i.size = e.value("Size", std::int64_t{0});
      i.created = e.contains("CreatedAt") && e["CreatedAt"].is_string() ? e["CreatedAt"].get<std::string>()
                  : e.contains("Created") && e["Created"].is_string() ? e["Created"].get<std::string>()
                                                                        : std::string();
      out.push_back(std::move(i));
    }
  } catch (const std::exception& ex) {
    return Error(Errc::failed, std::string("podman's image list is not the JSON brig expects: ") + ex.what());
  }
  return out;
}

// The last line of a command's stderr: podman says what went wrong there.
std::string last_line(const std::string& s) {
  auto t = str::trim(s);
  auto nl = t.rfind('\n');
  return std::string(nl == std::string_view::npos ? t : t.substr(nl + 1));
}


}  // namespace

Result<std::optional<ImageInfo>> Images::inspect(const std::string& image) { return inspect_image(ctx_.podman, image); }

Result<std::optional<ImageInfo>> inspect_image(const Podman& podman, const std::string& image) {
  auto out = podman.run({"image", "inspect", "--format", "json", image});
  if (!out) return out.error();
  if (!out->success()) {
    if (out->err.find("unknown") != std::string::npos || out->err.find("no such") != std::string::npos ||
        out->err.find("not known") != std::string::npos) {
      return std::optional<ImageInfo>{};
    }
    return Error(Errc::failed, "podman image inspect " + image + ": " + last_line(out->err));
  }
  auto list = parse_images(out->out);
  if (!list) return list.error();
  if (list->empty()) return std::optional<ImageInfo>{};
  return std::optional<ImageInfo>{list->front()};
}

Result<std::vector<ImageInfo>> Images::list() {
  auto out = ctx_.podman.run({"images", "--format", "json"});
  if (!out) return out.error();
  if (!out->success()) return Error(Errc::failed, "podman images: " + last_line(out->err));
  return parse_images(out->out);
}

Status Images::remove(const std::string& image) {
  auto found = inspect(image);
  if (!found) return found.error();
  if (!*found) return Error(Errc::not_found, "no image " + str::quote(image) + " in local storage", "brig image list");
  // Never --force: podman would remove the cells' containers under brig.
  auto out = ctx_.podman.run({"rmi", image});
  if (!out) return out.error();
  if (!out->success()) {
    const std::string why = last_line(out->err);
    if (why.find("in use") != std::string::npos || why.find("being used") != std::string::npos) {
      return Error(Errc::failed, "image " + image + " is used by a cell: " + why,
                   "remove the cells made from it first (brig cell list --all, brig cell rm CELL)");
    }
    return Error(Errc::failed, "podman rmi " + image + ": " + why);
  }
  return {};
}

Result<ImageInfo> Images::pull(const PullRequest& req) {
  if (req.ref.empty()) return Error(Errc::usage, "no image given", "brig image pull NAME[:TAG|@sha256:...]");
  auto ref = parse_image_ref(req.ref);
  if (!ref.digest.empty()) {
    if (auto p = spec::digest_problem(ref.digest)) return Error(Errc::usage, *p, "brig image pull NAME@sha256:<64 hex>");
  }
  if (auto p = image_tag_problem(ref.without_digest())) return Error(Errc::usage, *p);
  if (is_local_image(req.ref)) {
    return Error(Errc::usage, req.ref + " is a local name (localhost/...): nothing to pull",
                 "build it instead: brig image build DIR -t " + ref.without_digest());
  }
  proc::Command c;
  c.argv = {"podman", "pull"};
  if (!req.tls_verify) c.argv.push_back("--tls-verify=false");
  if (!req.progress) c.argv.push_back("--quiet");
  c.argv.push_back(req.ref);
  c.timeout = std::chrono::minutes(30);
  if (req.progress) {
    c.inherit_stdio = true;
    auto rc = ctx_.podman.on_terminal(c);
    if (!rc) return rc.error();
    if (*rc != 0) {
      return Error(Errc::failed, "pulling " + req.ref + " failed (podman exit " + std::to_string(*rc) + ")",
                   "check the name and that the registry is reachable from this host");
    }
  } else {
    auto out = ctx_.podman.run(c.argv, std::chrono::minutes(30));
    if (!out) return out.error();
    if (!out->success()) {
      return Error(Errc::failed, "pulling " + req.ref + " failed: " + last_line(out->err),
                   "check the name and that the registry is reachable from this host");
    }
  }
  auto got = inspect(req.ref);
  if (!got) return got.error();
  if (!*got) return Error(Errc::failed, "podman pulled " + req.ref + " but does not list it");
  if (!ref.digest.empty()) {
    if (auto p = pin_problem(ref, ref.digest, **got)) return Error(Errc::failed, *p);
  }
  ctx_.event("image-pull", "", {{"image", req.ref}, {"id", (*got)->id}, {"digest", (*got)->digest}});
  return **got;
}

namespace {

// The requirement policy.json sets for the image `repo` (fully qualified:
// host[:port]/path) under the docker transport, as containers-policy.json(5)
// chooses it: the longest scope that is the repository or a namespace of it
// (the host alone included), then a "*.domain" scope matching the host, then
// the transport's "" scope, then "default".
std::string signature_requirement(const nlohmann::json& policy, const std::string& repo) {
  auto types = [](const nlohmann::json& reqs) {
    std::vector<std::string> t;
    if (reqs.is_array()) {
      for (const auto& r : reqs) {
        if (r.is_object()) t.push_back(r.value("type", "?"));
      }
    }
    return t.empty() ? std::string("reject") : str::join(t, "+");
  };
  const std::string host = repo.substr(0, repo.find('/'));
  const nlohmann::json* docker = nullptr;
  if (policy.contains("transports") && policy["transports"].is_object() && policy["transports"].contains("docker") &&
      policy["transports"]["docker"].is_object()) {
    docker = &policy["transports"]["docker"];
  }
  if (docker) {
    std::string best;
    const nlohmann::json* reqs = nullptr;
    const nlohmann::json* wildcard = nullptr;
    std::size_t wildcard_len = 0;
    for (const auto& [scope, r] : docker->items()) {
      if (scope.empty()) continue;
      if (scope.rfind("*.", 0) == 0) {
        const std::string suffix = scope.substr(1);  // ".example.com"
        if (host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0 &&
            scope.size() > wildcard_len) {
          wildcard = &r;
          wildcard_len = scope.size();
        }
        continue;
      }
      const bool match = repo == scope || (repo.rfind(scope, 0) == 0 && repo[scope.size()] == '/');
      if (match && scope.size() > best.size()) {
        best = scope;
        reqs = &r;
      }
    }
    if (reqs) return types(*reqs);
    if (wildcard) return types(*wildcard);
    if (docker->contains("")) return types((*docker)[""]);
  }
  return types(policy.value("default", nlohmann::json::array()));
}

}  // namespace

Result<Verification> Images::verify(const std::string& image, const std::string& pin_flag,
                                    const std::string& signature_policy) {
  auto ref = parse_image_ref(image);
  std::string pin = pin_flag.empty() ? ref.digest : pin_flag;
  if (pin.empty()) {
    return Error(Errc::usage, "nothing to verify " + image + " against",
                 "pass --digest sha256:..., or --file cell.yaml with image_digest:, or name it NAME@sha256:...");
  }
  if (auto p = spec::digest_problem(pin)) return Error(Errc::usage, *p);
  if (!ref.digest.empty() && ref.digest != pin) {
    return Error(Errc::usage, "the digest in " + image + " and " + pin + " differ; give one of them");
  }
  auto found = inspect(ref.lookup(pin));
  if (!found) return found.error();
  if (!*found) {
    return Error(Errc::not_found, "no image " + str::quote(ref.without_digest()) + " in local storage",
                 is_local_image(image) ? "brig image build DIR -t " + ref.without_digest()
                                       : "brig image pull " + ref.name + "@" + pin);
  }
  Verification v;
  v.verified = true;
  if (auto p = pin_problem(ref, pin, **found)) {
    v.verified = false;
    v.lines.push_back("FAILED: " + *p);
  } else {
    v.lines.push_back("ok: " + ref.without_digest() + " is " + pin + " (ID " + (*found)->id.substr(0, 12) + ")");
  }
  if (is_local_image(image)) {
    v.lines.push_back("ok: signature policy does not apply: built here, never pulled");
    return v;
  }
  auto text = fs::read_file(signature_policy, 1 << 20);
  if (!text) {
    v.lines.push_back("ok: no signature policy (" + signature_policy + " is missing): podman accepts any image");
    return v;
  }
  nlohmann::json policy;
  try {
    policy = nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    v.verified = false;
    v.lines.push_back("FAILED: " + signature_policy + " is not JSON: " + e.what());
    return v;
  }
  // The name as podman stored it (fully qualified), not as typed.
  std::string repo = ref.name;
  for (const auto& rd : (*found)->repo_digests) {
    auto r = parse_image_ref(rd);
    if (same_repository(r.name, ref.name)) {
      repo = r.name;
      break;
    }
  }
  const std::string req = signature_requirement(policy, repo);
  if (req == "insecureAcceptAnything") {
    v.lines.push_back("ok: " + signature_policy + " accepts any image from " + repo + " (insecureAcceptAnything)");
  } else if (req.find("reject") != std::string::npos) {
    v.verified = false;
    v.lines.push_back("FAILED: " + signature_policy + " rejects images from " + repo);
  } else {
    // Signatures live with the registry: podman checks them when it pulls
    // the pinned manifest again under that policy.
    auto out = ctx_.podman.run({"pull", "--quiet", "--signature-policy", signature_policy, repo + "@" + pin},
                               std::chrono::minutes(10));
    if (!out) return out.error();
    if (out->success()) {
      v.lines.push_back("ok: the registry's signatures satisfy " + signature_policy + " (" + req + ")");
    } else {
      v.verified = false;
      v.lines.push_back("FAILED: " + signature_policy + " (" + req + "): " + last_line(out->err));
    }
  }
  return v;
}

bool image_build_running(const Paths& paths, const std::string& name) {
  const std::string lock = paths.build_dir(name) + "/lock";
  if (!fs::exists(lock)) return false;
  auto held = fs::FileLock::try_acquire(lock, fs::FileLock::Mode::shared);
  return !held && held.error().code() == Errc::exists;
}

Result<ImageInfo> Images::build(const BuildRequest& req, const std::function<void(const std::string&)>& note) {
  // --- everything that can be refused before anything is made ---
  if (req.context.empty()) return Error(Errc::usage, "no build context given", "brig image build DIR");
  std::error_code ec;
  if (!std::filesystem::is_directory(req.context, ec)) {
    return Error(Errc::usage, "build context " + req.context + " is not a directory",
                 "brig image build DIR (the directory with the Containerfile)");
  }
  auto containerfile = find_containerfile(req.context, req.file);
  if (!containerfile) {  // a usage error: what the command names is not there
    return Error(Errc::usage, containerfile.error().message(), containerfile.error().fix());
  }
  auto text = fs::read_file(*containerfile, 4 << 20);
  if (!text) return text.error().context("reading the Containerfile");
  if (auto problem = containerfile_problem(*text)) {
    return Error(Errc::usage, *problem,
                 "fetch it in a RUN step instead (curl, git) and build with --use-warden --allow HOST");
  }
  const std::string tag = req.tag.empty() ? default_build_tag(req.context) : req.tag;
  if (auto p = image_tag_problem(tag)) return Error(Errc::usage, *p, "brig image build DIR -t localhost/NAME:TAG");
  for (const auto& b : req.build_args) {
    if (b.empty() || b.front() == '=' || b.find('=') == std::string::npos) {
      return Error(Errc::usage, "--build-arg " + str::quote(b) + " is not KEY=VALUE", "--build-arg VERSION=1.2");
    }
  }
  auto cfg = load_host_config(ctx_.paths);
  if (!cfg) return cfg.error();
  if (req.use_warden) {
    auto up = ctx_.podman.is_warden_running();
    if (!up) return up.error();
    if (!*up) return Error(Errc::unavailable, "warden is not running, so the build would have no way out", "brig system up");
    if (cfg->runsc_network.empty()) {
      return Error(Errc::unavailable, "runsc cannot network a build here (gVisor's netstack does not work on this host)",
                   "brig system init --accept-weaker-network");
    }
  }

  // --- the build's files, network and policy; all undone when it ends ---
  std::string id = generate_cell_name();
  id.replace(0, 4, "build");
  const std::string dir = ctx_.paths.build_dir(id);
  BRIG_TRY(fs::make_dirs(ctx_.paths.run_dir() + "/builds", 0700));
  BRIG_TRY(fs::make_dirs(dir, 0700));
  // Held until the build's undos have run (declared before them, so released
  // after): prune leaves what a running build made alone.
  auto lock = fs::FileLock::try_acquire(dir + "/lock");
  if (!lock) return lock.error();
  Rollback rb;
  rb.add("build files", [dir]() -> Status {
    std::error_code rm_ec;
    std::filesystem::remove_all(dir, rm_ec);
    if (rm_ec) return Error(Errc::io, "removing " + dir + ": " + rm_ec.message(), "rm -rf " + dir);
    return {};
  });
  BRIG_TRY(fs::make_dirs(dir + "/context", 0755));
  BRIG_TRY(fs::make_dirs(dir + "/brig", 0755));
  ::chmod(dir.c_str(), 0755);  // podman reads the staged context and mounts as root; the tree is not secret

  BuildContextOptions copts;
  copts.dir = req.context;
  copts.containerfile = *containerfile;
  auto staged = assemble_context(copts, dir + "/context", [&](const std::string& w) { note("warning: " + w); });
  if (!staged) return staged.error();

  BuildPlan p;
  p.staged = dir + "/context";
  p.containerfile = *containerfile;
  p.tag = tag;
  p.iidfile = dir + "/iid";
  p.ignorefile = dir + "/empty.ignore";
  BRIG_TRY(fs::write_atomic(p.ignorefile, "", 0644));
  p.no_cache = req.no_cache;
  p.quiet = req.quiet;
  p.ulimits = cfg->ulimits;
  auto runtime = write_runsc_build(ctx_.paths, *cfg);
  if (!runtime) return runtime.error();
  p.runtime = *runtime;
  p.runtime_flags = {"oci-seccomp", std::string("network=") + (req.use_warden ? cfg->runsc_network : "none")};
  if (!cfg->runsc_stat_ok) {
    // As in cells: Debian's runsc refuses glibc's statx; RUN steps preload the shim.
    BRIG_TRY(fs::write_atomic(dir + "/brig/" + cell_files::kStatShimName, cell_files::stat_shim(), 0644));
    BRIG_TRY(fs::write_atomic(dir + "/brig/ld.so.preload", std::string("/run/brig/") + cell_files::kStatShimName + "\n", 0644));
    p.mounts.push_back({dir + "/brig/ld.so.preload", "/etc/ld.so.preload"});
  }

  if (req.use_warden) {
    auto subnet = allocate_subnet(ctx_.paths, id);
    if (!subnet) return subnet.error();
    rb.add("subnet", [this, id]() -> Status { return release_subnet(ctx_.paths, id); });
    BRIG_TRY(state::store_cell_policy(ctx_.paths, id, req.policy));
    rb.add("policy", [this, id]() -> Status { return state::remove_cell_policy(ctx_.paths, id); });
    auto bundle = cell_files::ca_bundle(ctx_.paths);
    if (!bundle) return bundle.error();
    BRIG_TRY(fs::write_atomic(dir + "/brig/ca-bundle.crt", *bundle, 0644));
    auto made = ctx_.podman.run(network_create_args(cell_network(id), *subnet, id));
    if (!made) return made.error();
    if (!made->success()) return Error(Errc::failed, "creating the build's network: " + last_line(made->err));
    rb.add("network", [this, id] { return teardown_network(ctx_.podman, cell_network(id)); });
    CellRecord rec;
    rec.name = id;
    rec.subnet = *subnet;
    BRIG_TRY(connect_warden(ctx_.podman, rec));
    BRIG_TRY(ensure_bridge_ipv6_off(ctx_.podman, ctx_.proc_sys, cell_network(id)));
    p.network = cell_network(id);
    p.dns = subnet->warden_ip();
    // The proxy variables are build arguments every RUN step sees without an
    // ARG line; the CA variables are declared after every FROM of a copy of
    // the Containerfile, so pip, npm, curl and the rest trust warden's CA.
    const std::string proxy = "http://" + subnet->warden_ip() + ":" + std::to_string(kProxyPort);
    for (auto k : spec::kCellProxyEnv) p.build_args.push_back(std::string(k) + "=" + proxy);
    for (auto k : spec::kCellNoProxyEnv) p.build_args.push_back(std::string(k) + "=localhost,127.0.0.1");
    std::vector<std::string> ca_vars(std::begin(spec::kCellCaBundleEnv), std::end(spec::kCellCaBundleEnv));
    ca_vars.push_back("PIP_CERT");
    for (const auto& k : ca_vars) p.build_args.push_back(k + "=/run/brig/ca-bundle.crt");
    p.containerfile = dir + "/Containerfile";
    BRIG_TRY(fs::write_atomic(p.containerfile, containerfile_with_args(*text, ca_vars), 0644));
    note("note: RUN steps reach the network through warden as " + id + " (its log: brig cell network is for cells; " +
         ctx_.paths.logs_dir() + "/cells/" + id + ".jsonl)");
  }
  if (!p.mounts.empty() || req.use_warden) p.mounts.insert(p.mounts.begin(), {dir + "/brig", "/run/brig"});
  for (const auto& b : req.build_args) p.build_args.push_back(b);  // the user's last: theirs win
  note(std::string("note: RUN steps run under gVisor (runsc) with ") +
       (req.use_warden ? "warden as their only way out" : "no network (--use-warden gives them warden)"));

  proc::Command c;
  c.argv = image_build_args(p);
  c.timeout = std::chrono::hours(2);
  int rc = 0;
  std::string err;
  if (req.quiet) {
    auto out = ctx_.podman.run(c.argv, std::chrono::hours(2));
    if (!out) return out.error();
    rc = out->exit_code;
    err = last_line(out->err);
  } else {
    c.inherit_stdio = true;
    auto out = ctx_.podman.on_terminal(c);
    if (!out) return out.error();
    rc = *out;
  }
  if (rc != 0) {
    return Error(Errc::failed, "the build of " + tag + " failed (podman exit " + std::to_string(rc) + ")" +
                                   (err.empty() ? "" : ": " + err),
                 req.use_warden ? "a step that needs a host warden refused: add --allow HOST (warden's reason is in " +
                                      ctx_.paths.logs_dir() + "/cells/" + id + ".jsonl)"
                                : "a step that needs the network: rebuild with --use-warden --allow HOST");
  }
  auto iid = fs::read_file(p.iidfile, 4096);
  if (!iid) return Error(Errc::failed, "podman built " + tag + " but wrote no image ID");
  std::string image_id(str::trim(*iid));
  if (image_id.rfind("sha256:", 0) == 0) image_id.erase(0, 7);
  auto info = inspect(image_id);
  if (!info) return info.error();
  if (!*info) return Error(Errc::failed, "podman built " + tag + " but does not list it");
  ctx_.event("image-build", "", {{"image", tag}, {"id", (*info)->id}, {"warden", req.use_warden}});
  return **info;
}

}  // namespace brig::engine
