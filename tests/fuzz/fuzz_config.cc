// libFuzzer target: the config loader and its validation pass, YAML text -> typed
// Config or file:line errors (LoadConfigText, the body of LoadConfig). Must never crash,
// hang or throw; every error names the file, and its line is one of the text's lines.
// The validation pass may stat and read files the text names (password_file...), as
// check-config does; it writes nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // LoadConfig refuses files over 1 MiB; small texts reach every key as well.
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  gateway::ConfigLoad load = gateway::LoadConfigText(text, "fuzz.yaml");
  int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto* list : {&load.errors, &load.warnings}) {
    for (const auto& e : *list) {
      if (e.file != "fuzz.yaml" || e.message.empty()) __builtin_trap();
      // yaml-cpp may point one line past the last at an unexpected end of input.
      if (e.line < 0 || e.line > lines + 1) __builtin_trap();
      if (e.ToString().rfind("fuzz.yaml:", 0) != 0) __builtin_trap();
    }
  }
  return 0;
}
