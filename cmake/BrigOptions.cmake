# Shared compile options for every brig target: brig_module(NAME SOURCES... DEPS ...)

add_library(brig_options INTERFACE)
target_compile_options(brig_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
  -Wformat=2 -Wimplicit-fallthrough)
if(BRIG_WERROR)
  target_compile_options(brig_options INTERFACE -Werror)
endif()
if(BRIG_SANITIZE)
  # GCC 12 reports false -Wmaybe-uninitialized under ASan (boost::optional in
  # Beast's parser, std::regex); the normal build keeps the warning as an error.
  target_compile_options(brig_options INTERFACE -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-maybe-uninitialized)
  target_link_options(brig_options INTERFACE -fsanitize=address,undefined)
endif()
if(BRIG_FUZZ)
  # Coverage instrumentation for every library the fuzz targets link.
  target_compile_options(brig_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  target_link_options(brig_options INTERFACE -fsanitize=address,undefined)
endif()
target_compile_definitions(brig_options INTERFACE BRIG_VERSION="${PROJECT_VERSION}")
if(BRIG_CLIENT_ONLY)
  # The thin client: code that needs a Linux-only module is left out.
  target_compile_definitions(brig_options INTERFACE BRIG_CLIENT_ONLY)
endif()

# brig_module(<name> SOURCES <...> PUBLIC_DEPS <...> PRIVATE_DEPS <...>)
# One static library per module. Each module has its own include root,
# <build>/include-roots/<name>/brig/<name> -> include/brig/<name>, so a
# module sees the brig headers of itself and of the modules it links, and
# `#include "brig/<other>/..."` of a module it does not link fails the build.
# Relative includes into another src/ dir, Boost/OpenSSL (system headers) and
# process calls are not stopped here: scripts/check-layering.sh checks those
# and the whole table of docs/architecture.md.
function(brig_module name)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS;PCH" ${ARGN})
  add_library(brig_${name} STATIC ${M_SOURCES})
  set(root ${PROJECT_BINARY_DIR}/include-roots/${name})
  file(MAKE_DIRECTORY ${root}/brig)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/brig/${name} ${root}/brig/${name} SYMBOLIC)
  target_include_directories(brig_${name} PUBLIC ${root})
  target_link_libraries(brig_${name} PUBLIC brig_options ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  if(M_PCH)
    target_precompile_headers(brig_${name} PRIVATE ${M_PCH})
  endif()
endfunction()
