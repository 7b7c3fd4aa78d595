// Stand-in for DeepJIT's get_env: every variable unset (no DG_PRINT_CONFIGS output).
#pragma once
#include <string>

namespace deep_jit {
template <typename T>
T get_env(const std::string&, const T& default_value = T()) {
    return default_value;
}
}  // namespace deep_jit
