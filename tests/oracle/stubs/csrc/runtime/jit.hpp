// Stand-in for DeepGEMM's JIT runtime: the device is an SM100 (arch major 10) for the one
// helper that asks (get_theoretical_mk_alignment_for_contiguous_layout, unused by the driver).
// For the generator oracle (generator_driver.cpp), `compile` records what a launcher hands
// DeepJIT (tag, source, override options) instead of compiling, and `launch` does nothing.
#pragma once
#include <memory>
#include <optional>
#include <string>

namespace deep_jit::cuda {
struct LaunchOptions {
    int num_smem_bytes = 0;
};
// Only the field an SM100 epilogue class overrides (its `arch`); empty: DeepJIT's defaults.
struct CompilerOptions {
    std::optional<std::string> arch;
};
}  // namespace deep_jit::cuda

namespace deep_gemm {
struct OracleDevice {
    int get_arch_major() const { return 10; }
};
struct OracleCompiled {
    std::string tag, source;
    deep_jit::cuda::CompilerOptions options;
};
struct OracleJit {
    OracleDevice device;
    OracleCompiled last;
    int compile(const std::string& tag, const std::string& source,
                const deep_jit::cuda::CompilerOptions& options = {}) {
        last = {tag, source, options};
        return 0;
    }
    template <typename... Args>
    void launch(const Args&...) {}
};
inline auto jit = std::make_shared<OracleJit>();
}  // namespace deep_gemm
