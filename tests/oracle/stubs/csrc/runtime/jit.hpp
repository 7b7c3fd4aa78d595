// Stand-in for DeepGEMM's JIT runtime: the device is an SM100 (arch major 10) for the one
// helper that asks (get_theoretical_mk_alignment_for_contiguous_layout, unused by the driver),
// and an SM90 while the driver runs an SM90 launcher (which asserts it).
// For the generator oracle (generator_driver.cpp), `compile` records what a launcher hands
// DeepJIT (tag, source, override options) instead of compiling, and `launch` does nothing.
#pragma once
#include <memory>
#include <optional>
#include <string>

namespace deep_jit::cuda {
struct Dim3 {
    unsigned x = 1, y = 1, z = 1;
};
struct LaunchOptions {
    int num_smem_bytes = 0;
    Dim3 grid_dim, block_dim, cluster_dim;
};
// Only the field an SM100 epilogue class overrides (its `arch`); empty: DeepJIT's defaults.
struct CompilerOptions {
    std::optional<std::string> arch;
};
}  // namespace deep_jit::cuda

// CUDA's dim3, as the launchers build launch options with it.
struct dim3 : deep_jit::cuda::Dim3 {
    dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : deep_jit::cuda::Dim3{x, y, z} {}
};

namespace deep_gemm {
struct OracleDevice {
    int arch_major = 10;  // the driver's sm90 queries set 9 while they run
    int get_arch_major() const { return arch_major; }
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
    void launch(const int&, const deep_jit::cuda::LaunchOptions&, const Args&...) {}
};
inline auto jit = std::make_shared<OracleJit>();
}  // namespace deep_gemm
