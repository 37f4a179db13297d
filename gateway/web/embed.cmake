# Turns one asset file into a C++ source with a byte array, so that the status page
# needs no file on disk and no network: cmake -DIN=... -DOUT=... -DNAME=... -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE "${OUT}.tmp"
"// Generated from ${IN} by gateway/web/embed.cmake; do not edit.\n"
"#include <cstddef>\n"
"namespace gateway::web {\n"
"extern const char ${NAME}[];\n"
"extern const size_t ${NAME}Size;\n"
"const char ${NAME}[] = {${bytes}'\\0'};\n"
"const size_t ${NAME}Size = ${size};\n"
"}  // namespace gateway::web\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
