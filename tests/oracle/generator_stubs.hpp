// Stand-ins for what the generator oracle's launchers call besides the generator itself: the
// TMA descriptor makers of impls/runtime_utils.hpp (they call the CUDA driver; their result is
// only passed to `launch`, never into a source) and CUDA's nv_bfloat16 (only its size is read).
#pragma once
#include <cstdint>

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
