// brig cell cp (cell_copy.h): docker cp's rules over tar streams.
#include "brig/engine/cell_copy.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "brig/core/strings.h"
#include "brig/engine/engine.h"
#include "brig/engine/podman.h"

namespace brig::engine {
namespace {

std::string strip_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string base_name(const std::string& p) {
  std::string s = strip_trailing_slashes(p);
  auto slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

std::string parent_dir(const std::string& p) {
  std::string s = strip_trailing_slashes(p);
  auto slash = s.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : s.substr(0, slash);
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Escapes `s` for a sed regex / replacement between commas (GNU tar --transform).
std::string sed_escape(const std::string& s, bool regex) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\' || c == '&' || (regex && std::string_view(".*[]^$").find(c) != std::string_view::npos)) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

// The GNU tar option that renames the member `from` (and what is under it) to `to`.
std::string rename_option(const std::string& from, const std::string& to) {
  return "--transform=s,^" + sed_escape(from, true) + "," + sed_escape(to, false) + ",S";
}

// The tar argv that streams `path` (a file or directory; "DIR/." its
// contents) as the member name `as` (".": the contents, as "./...").
// A rename needs GNU tar (the host's); `as` is the path's own name (or ".")
// for a stream a cell makes, whose tar may be busybox's.
std::vector<std::string> tar_create(const std::string& path, const std::string& as) {
  const bool contents = ends_with(path, "/.") || path == ".";
  const std::string dir = contents ? (path == "." ? "." : path.substr(0, path.size() - 2)) : path;
  if (contents && as == ".") return {"tar", "-cf", "-", "-C", dir.empty() ? "/" : dir, "."};
  const std::string base = base_name(dir);
  std::vector<std::string> a = {"tar", "-cf", "-", "-C", parent_dir(dir)};
  if (as != base) a.push_back(rename_option(base, as));
  a.push_back(base);
  return a;
}

// In-cell shell: what `$1` is. Prints dir, file or none.
const char* kKindScript = "if [ -d \"$1\" ]; then echo dir; elif [ -e \"$1\" ] || [ -L \"$1\" ]; then echo file; else echo none; fi";

PathKind host_kind(const std::string& path, bool follow) {
  struct stat st {};
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) return PathKind::none;
  return S_ISDIR(st.st_mode) ? PathKind::dir : PathKind::file;
}

class Copier {
 public:
  Copier(Engine& e, std::string cell) : e_(e), cell_(std::move(cell)) {}
  ~Copier() {
    if (!stream_.empty()) ::unlink(stream_.c_str());
  }

  Status load() {
    auto st = e_.status(cell_);
    if (!st) return st.error();
    running_ = st->state == "running";
    rec_ = st->record;
    char tmpl[4096];
    const std::string t = e_.paths().run_dir() + "/cp-XXXXXX";
    if (t.size() >= sizeof tmpl) return Error(Errc::invalid, "BRIG_HOME is too long");
    t.copy(tmpl, t.size());
    tmpl[t.size()] = '\0';
    int fd = ::mkstemp(tmpl);
    if (fd < 0) return errno_error("creating a temporary file in " + e_.paths().run_dir(), errno);
    ::close(fd);
    stream_ = tmpl;
    return {};
  }

  // An absolute path in the cell (relative ones are under the workspace mount).
  std::string in_cell(const std::string& p) const {
    if (!p.empty() && p[0] == '/') return p;
    return rec_.workspace_mount + "/" + p;
  }

  // For a stopped cell: the host path of `p` inside its workspace, with no
  // symlink and no ".." on the way (nothing can change it: the cell is stopped).
  Result<std::string> in_workspace(const std::string& p) const {
    const std::string& mount = rec_.workspace_mount;
    if (p != mount && p.rfind(mount + "/", 0) != 0) {
      return Error(Errc::failed,
                   "cell " + cell_ + " is not running, so only its workspace (" + mount + ") can be copied",
                   "brig cell start " + cell_);
    }
    std::vector<std::string> parts;
    for (const auto& part : str::split(p.substr(mount.size()), '/')) {
      if (part.empty() || part == ".") continue;
      if (part == "..") return Error(Errc::usage, str::quote(p) + " contains \"..\"", "name a path without \"..\"");
      parts.push_back(part);
    }
    // Every directory on the way must be one; the last name may be a link
    // (copied as a link, never followed).
    std::string host = rec_.workspace;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      host += "/" + parts[i];
      struct stat st {};
      if (i + 1 < parts.size() && ::lstat(host.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
        return Error(Errc::usage,
                     mount + "/" + str::join(std::vector<std::string>(parts.begin(), parts.begin() + static_cast<long>(i) + 1), "/") +
                         " is a symlink or a file; brig does not follow links in a stopped cell's workspace",
                     "brig cell start " + cell_ + ", then copy");
      }
    }
    return host;
  }

  Result<PathKind> cell_kind(const std::string& p) {
    auto out = podman({"exec", cell_container(cell_), "sh", "-c", kKindScript, "sh", p});
    if (!out) return out.error();
    const std::string k(str::trim(out->out));
    if (k == "dir") return PathKind::dir;
    if (k == "file") return PathKind::file;
    if (k == "none") return PathKind::none;
    return Error(Errc::failed, "cannot look at " + str::quote(p) + " in cell " + cell_ + ": " +
                                   std::string(str::trim(out->err)),
                 "the image needs sh and tar for brig cell cp (busybox has both)");
  }

  Result<proc::Output> podman(std::vector<std::string> args, const std::string& in = "", const std::string& out = "") {
    args.insert(args.begin(), "podman");
    return host(std::move(args), in, out);
  }

  Result<proc::Output> host(std::vector<std::string> argv, const std::string& in = "", const std::string& out = "") {
    proc::Command c;
    c.argv = std::move(argv);
    c.stdin_file = in;
    c.stdout_file = out;
    c.timeout = std::chrono::hours(1);
    return e_.context().runner.run(c);
  }

  Engine& e_;
  std::string cell_;
  bool running_ = false;
  CellRecord rec_;
  std::string stream_;
};

Status check_ok(const Result<proc::Output>& out, const std::string& what) {
  if (!out) return out.error();
  if (out->success()) return {};
  std::string why(str::trim(out->err));
  if (why.find("Read-only file system") != std::string::npos) {
    return Error(Errc::failed, what + ": the destination is read-only in the cell",
                 "copy into the workspace, /tmp or /run (the root filesystem is read-only)");
  }
  return Error(Errc::failed, what + ": " + (why.empty() ? "exit code " + std::to_string(out->exit_code) : why));
}

// A stream a cell made, before the host extracts it: every member is `name`
// or under it ("." : anything relative), and is a file, directory or symlink,
// none setuid or setgid.
Status check_stream(Copier& c, const std::string& name) {
  auto names = c.host({"tar", "-tf", c.stream_});
  BRIG_TRY(check_ok(names, "reading the copied stream"));
  auto long_list = c.host({"tar", "-tvf", c.stream_});
  BRIG_TRY(check_ok(long_list, "reading the copied stream"));
  auto n = str::split(std::string(str::trim(names->out)), '\n');
  auto l = str::split(std::string(str::trim(long_list->out)), '\n');
  if (n.size() != l.size()) return Error(Errc::failed, "the cell's tar stream could not be read consistently");
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string& m = n[i];
    const std::string& perms = l[i];
    const bool under = name == "." ? (m == "./" || m == "." || m.rfind("./", 0) == 0)
                                   : (m == name || m == name + "/" || m.rfind(name + "/", 0) == 0);
    if (!under || m.find("../") != std::string::npos || (!m.empty() && m[0] == '/')) {
      return Error(Errc::failed, "the cell sent " + str::quote(m) + ", outside what was asked for; nothing was copied");
    }
    if (perms.empty() || std::string_view("-dl").find(perms[0]) == std::string_view::npos) {
      return Error(Errc::failed, str::quote(m) + " is not a file, directory or symlink; nothing was copied",
                   "copy the regular files only");
    }
    if (perms.size() >= 10 && (perms[3] == 's' || perms[3] == 'S' || perms[6] == 's' || perms[6] == 'S')) {
      return Error(Errc::failed, str::quote(m) + " is setuid or setgid; nothing was copied",
                   "clear the bit in the cell first (chmod ug-s)");
    }
  }
  return {};
}

Result<int> cell_to_host(Engine& e, const CpOperand& s, const std::string& dst) {
  Copier c(e, s.cell);
  BRIG_TRY(c.load());
  const std::string src = c.in_cell(s.path);
  PathKind kind = PathKind::none;
  std::string host_src;  // a stopped cell: the path in its workspace
  if (c.running_) {
    auto k = c.cell_kind(src);
    if (!k) return k.error();
    kind = *k;
  } else {
    auto h = c.in_workspace(src);
    if (!h) return h.error();
    host_src = *h;
    kind = host_kind(host_src, false);
  }
  if (kind == PathKind::none) {
    return Error(Errc::not_found, str::quote(src) + " does not exist in cell " + s.cell,
                 "brig cell exec " + s.cell + " -- ls " + parent_dir(src));
  }
  auto target = copy_target(src, kind, dst, host_kind(dst, true));
  if (!target) return target.error();
  // The cell's tar streams the path under its own name; the host's renames.
  const bool contents = ends_with(src, "/.");
  const std::string root = contents ? "." : base_name(src);
  if (c.running_) {
    auto args = tar_create(src, root);
    args.insert(args.begin(), {"exec", cell_container(s.cell)});
    BRIG_TRY(check_ok(c.podman(args, "", c.stream_), "tar in cell " + s.cell));
  } else {
    BRIG_TRY(check_ok(c.host(tar_create(host_src, root), "", c.stream_), "reading the workspace"));
  }
  BRIG_TRY(check_stream(c, root));
  std::string into = target->dir;
  std::vector<std::string> extract = {"tar", "-xf", c.stream_, "--no-same-owner", "--no-same-permissions"};
  if (root == "." && target->name != ".") {
    into += "/" + target->name;  // the contents, into a new directory
    if (::mkdir(into.c_str(), 0755) != 0) return errno_error("creating " + into, errno);
  } else if (root != "." && target->name != root) {
    extract.push_back(rename_option(root, target->name));
  }
  extract.insert(extract.end(), {"-C", into});
  BRIG_TRY(check_ok(c.host(extract), "writing into " + into));
  return 0;
}

Result<int> host_to_cell(Engine& e, const std::string& src, const CpOperand& d) {
  Copier c(e, d.cell);
  BRIG_TRY(c.load());
  const PathKind kind = host_kind(src, false);
  if (kind == PathKind::none) return Error(Errc::not_found, str::quote(src) + " does not exist", "check the path");
  const std::string dst = c.in_cell(d.path);
  if (c.running_) {
    auto k = c.cell_kind(dst);
    if (!k) return k.error();
    auto target = copy_target(src, kind, dst, *k);
    if (!target) return target.error();
    BRIG_TRY(check_ok(c.host(tar_create(src, target->name), "", c.stream_), "reading " + src));
    BRIG_TRY(check_ok(c.podman({"exec", "-i", cell_container(d.cell), "tar", "-xf", "-", "-C", target->dir},
                               c.stream_),
                      "writing into " + target->dir + " in cell " + d.cell));
    return 0;
  }
  auto h = c.in_workspace(dst);
  if (!h) return h.error();
  auto target = copy_target(src, kind, *h, host_kind(*h, false));
  if (!target) return target.error();
  if (host_kind(target->dir, false) != PathKind::dir) {
    return Error(Errc::not_found, "directory " + str::quote(parent_dir(dst)) + " does not exist in cell " + d.cell,
                 "create it first, or copy into " + c.rec_.workspace_mount);
  }
  BRIG_TRY(check_ok(c.host(tar_create(src, target->name), "", c.stream_), "reading " + src));
  BRIG_TRY(check_ok(c.host({"tar", "-xf", c.stream_, "-C", target->dir, "--no-same-owner"}),
                    "writing into the workspace"));
  return 0;
}

}  // namespace

CpOperand parse_cp_operand(const std::string& operand) {
  const auto colon = operand.find(':');
  if (colon == std::string::npos || colon == 0 || operand.find('/') < colon) return {"", operand};
  return {operand.substr(0, colon), operand.substr(colon + 1)};
}

Result<CopyTarget> copy_target(const std::string& src, PathKind src_kind, const std::string& dest,
                               PathKind dest_kind) {
  const bool contents = ends_with(src, "/.") || src == ".";
  const bool dest_slash = !dest.empty() && dest.back() == '/';
  const std::string base = base_name(src);
  if (src_kind == PathKind::none) return Error(Errc::not_found, str::quote(src) + " does not exist");
  if (base.empty() || base == "/") return Error(Errc::usage, "cannot copy / itself", "name a directory inside it");
  if (src_kind == PathKind::file) {
    if (contents) return Error(Errc::usage, str::quote(src) + " is not a directory", "drop the trailing /.");
    if (dest_kind == PathKind::dir) return CopyTarget{strip_trailing_slashes(dest), base};
    if (dest_slash) {
      return Error(Errc::not_found,
                   "directory " + str::quote(dest) + (dest_kind == PathKind::none ? " does not exist" : " is a file"),
                   "create the directory first, or drop the trailing / to copy to that file name");
    }
    return CopyTarget{parent_dir(dest), base_name(dest)};
  }
  if (dest_kind == PathKind::file) {
    return Error(Errc::usage, "cannot copy directory " + str::quote(src) + " onto file " + str::quote(dest),
                 "name a directory, or a path that does not exist yet");
  }
  if (dest_kind == PathKind::dir) return CopyTarget{strip_trailing_slashes(dest), contents ? "." : base};
  return CopyTarget{parent_dir(dest), base_name(dest)};
}

Result<int> copy_files(Engine& e, const std::string& src, const std::string& dst) {
  const CpOperand s = parse_cp_operand(src), d = parse_cp_operand(dst);
  if (s.cell.empty() == d.cell.empty()) {
    return Error(Errc::usage, s.cell.empty() ? "neither side names a cell" : "both sides name a cell",
                 "brig cell cp CELL:/work/file ./file  or  brig cell cp ./file CELL:/work/");
  }
  return s.cell.empty() ? host_to_cell(e, src, d) : cell_to_host(e, s, dst);
}

}  // namespace brig::engine
