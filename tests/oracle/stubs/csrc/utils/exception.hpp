// Stand-in for DeepGEMM's exception header: the assert macros, throwing std::runtime_error.
#pragma once
#include <stdexcept>
#include <string>

#define DG_HOST_ASSERT(cond)                                                          \
    do {                                                                              \
        if (not(cond)) throw std::runtime_error(std::string("assertion: ") + #cond);  \
    } while (0)
#define DG_HOST_UNREACHABLE(reason) (throw std::runtime_error(reason))
#define DG_STATIC_ASSERT(cond, ...) static_assert(cond, __VA_ARGS__)

// The SM90 pipeline sizes its K-grouped tensor-map buffer with sizeof(CUtensorMap).
struct alignas(64) CUtensorMap {
    unsigned long long opaque[16];
};
