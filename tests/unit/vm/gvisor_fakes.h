// Fake curl, gpg, dpkg, dpkg-query, apt-get, apt-cache, apt-mark and uname
// for the gVisor scripts (provisioning step 3 of vm/lima.yaml,
// scripts/pin-gvisor.sh): no network, no root. Each appends its argv to
// $FAKE/log. curl serves $FAKE/net/HOST/PATH for https://HOST/PATH; gpg reads
// the fake key format below; apt serves the versions listed in
// $FAKE/available ("SUITE VERSION" lines) and installs into
// $BRIG_PROVISION_ROOT, recording the version in $FAKE/installed.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace brig::vm::testing {

// An armored "key" the fake gpg understands: one `pub FPR` line per primary
// key, `sub FPR` per subkey.
inline std::string fake_key(const std::string& pub, const std::string& sub = std::string(40, 'B')) {
  return "-----BEGIN PGP PUBLIC KEY BLOCK-----\npub " + pub + "\nsub " + sub + "\n-----END PGP PUBLIC KEY BLOCK-----\n";
}

inline void write_gvisor_fakes(const std::filesystem::path& bin) {
  namespace sfs = std::filesystem;
  sfs::create_directories(bin);
  auto put = [&](const char* name, const std::string& body) {
    std::ofstream(bin / name) << "#!/bin/bash\necho \"" << name << " $*\" >> \"$FAKE/log\"\n" << body;
    sfs::permissions(bin / name, sfs::perms::owner_all);
  };
  put("curl", R"sh(out="" url=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift ;;
    --proto|--proto-redir|--retry) shift ;;
    -*) ;;
    *) url=$1 ;;
  esac
  shift
done
case "$url" in https://*) ;; *) echo "curl: fake serves https only, got $url" >&2; exit 1 ;; esac
src="$FAKE/net/${url#https://}"
[ -f "$src" ] || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }
if [ -n "$out" ]; then cp "$src" "$out"; else cat "$src"; fi
)sh");
  put("gpg", R"sh([ -n "${GNUPGHOME:-}" ] || { echo "fake gpg: GNUPGHOME is not set (the user's keyring would be used)" >&2; exit 2; }
in="${!#}" out=""
prev=""
for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done
case " $* " in
  *" --show-keys "*)
    grep -E '^(pub|sub) [0-9A-F]+$' "$in" | while read -r kind fpr; do
      echo "$kind:-:255:22:${fpr: -16}:1700000000:::-:::scSC:::::ed25519:::0:"
      echo "fpr:::::::::$fpr:"
      if [ "$kind" = pub ]; then echo "uid:-::::1700000000::0881E1C7::gVisor bot <gvisor-bot@example.com>::::::::::0:"; fi
    done ;;
  *" --dearmor "*)
    grep -q -- '-----BEGIN PGP' "$in" || { echo "gpg: no valid OpenPGP data found." >&2; exit 2; }
    { echo "binary keyring"; grep -E '^(pub|sub) ' "$in"; } > "$out" ;;
  *) echo "fake gpg: unexpected $*" >&2; exit 2 ;;
esac
)sh");
  put("dpkg", R"sh([ "$1" = --print-architecture ] && echo amd64
)sh");
  put("dpkg-query", R"sh(if [ -f "$FAKE/installed" ]; then cat "$FAKE/installed"; exit 0; fi
echo "dpkg-query: no packages found matching runsc" >&2
exit 1
)sh");
  // suite_has VERSION: the suite of the last `apt-get update` lists VERSION.
  const std::string suite_has = R"sh(suite_has() {
  local suite
  suite=$(awk '{ print $(NF-1) }' "$FAKE/updated.list" 2>/dev/null)
  grep -qx "$suite $1" "$FAKE/available" 2>/dev/null
}
)sh";
  put("apt-get", suite_has + R"sh(prev="" v=""
for a in "$@"; do
  [ "$prev" = -o ] && case "$a" in Dir::Etc::sourcelist=*) cp "${a#*=}" "$FAKE/updated.list" ;; esac
  case "$a" in runsc=*) v=${a#runsc=} ;; esac
  prev=$a
done
case "$1" in
  update) [ -z "${FAKE_UPDATE_FAILS:-}" ] || { echo "E: The repository is not signed." >&2; exit 100; } ;;
  install)
    suite_has "$v" || { echo "E: Version '$v' for 'runsc' was not found" >&2; exit 100; }
    printf %s "$v" > "$FAKE/installed"
    mkdir -p "$BRIG_PROVISION_ROOT/usr/bin"
    echo "runsc $v" > "$BRIG_PROVISION_ROOT/usr/bin/runsc" ;;
esac
)sh");
  put("apt-cache", suite_has + R"sh([ "$1" = show ] && suite_has "${2#runsc=}"
)sh");
  put("apt-mark", "");
  put("uname", R"sh([ "$1" = -m ] && echo "${FAKE_ARCH:-x86_64}"
)sh");
}

}  // namespace brig::vm::testing
