# cmake -DIN=file -DOUT=file.cc -DNAME=symbol -P embed.cmake
# Writes OUT defining `extern const unsigned char NAME[]` and `NAME_size`
# (in namespace brig::engine) with the bytes of IN.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" len)
math(EXPR size "${len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}" "// Generated from ${IN} by cmake/embed.cmake.\n#include <cstddef>\nnamespace brig::engine {\n"
  "extern const unsigned char ${NAME}[];\nextern const std::size_t ${NAME}_size;\n"
  "const unsigned char ${NAME}[] = {\n${bytes}\n};\nconst std::size_t ${NAME}_size = ${size};\n}\n")
