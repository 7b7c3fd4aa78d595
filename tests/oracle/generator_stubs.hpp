// Stand-ins for what the generator oracle's launchers call besides the generator itself: the
// TMA descriptor makers of impls/runtime_utils.hpp (they call the CUDA driver; their result is
// only passed to `launch`, never into a source) and CUDA's nv_bfloat16 (only its size is read).
// For 2.8.0's indexer launcher: CUTLASS's mbarrier type (one 64-bit word: only its size and
// alignment are read) and the host side of DeepGEMM's `math::` helpers (device headers there).
#pragma once
#include <cstdint>

namespace cutlass::arch {
struct ClusterTransactionBarrier {
    uint64_t barrier;
};
}  // namespace cutlass::arch

namespace deep_gemm::math {
template <typename T>
constexpr T ceil_div(const T& a, const T& b) { return (a + b - 1) / b; }
template <typename T>
constexpr T align(const T& a, const T& b) { return ceil_div(a, b) * b; }
}  // namespace deep_gemm::math

struct nv_bfloat16 {
    uint16_t bits;
};

namespace deep_gemm {
template <typename... Args>
CUtensorMap make_tma_a_desc(const Args&...) { return {}; }
template <typename... Args>
CUtensorMap make_tma_b_desc(const Args&...) { return {}; }
template <typename... Args>
CUtensorMap make_tma_cd_desc(const Args&...) { return {}; }
template <typename... Args>
CUtensorMap make_tma_2d_desc(const Args&...) { return {}; }
template <typename... Args>
CUtensorMap make_tma_3d_desc(const Args&...) { return {}; }
template <typename... Args>
CUtensorMap make_tma_sf_desc(const Args&...) { return {}; }
}  // namespace deep_gemm
