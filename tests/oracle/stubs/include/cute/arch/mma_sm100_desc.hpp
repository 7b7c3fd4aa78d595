// Stand-in for cute's UMMA descriptor header: only the operand-major enum the heuristics read.
#pragma once
#include <cstdint>

#ifndef CUTLASS_HOST_DEVICE
#define CUTLASS_HOST_DEVICE
#endif

namespace cute::UMMA {
enum class Major : uint8_t { K = 0, MN = 1 };
}  // namespace cute::UMMA
