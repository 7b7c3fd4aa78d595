// Stand-in for DeepGEMM's JIT runtime: the device is an SM100 (arch major 10) for the one
// helper that asks (get_theoretical_mk_alignment_for_contiguous_layout, unused by the driver).
#pragma once
#include <memory>

namespace deep_gemm {
struct OracleDevice {
    int get_arch_major() const { return 10; }
};
struct OracleJit {
    OracleDevice device;
};
inline auto jit = std::make_shared<OracleJit>();
}  // namespace deep_gemm
