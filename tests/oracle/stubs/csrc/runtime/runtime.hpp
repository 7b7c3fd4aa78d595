// Stand-in for DeepGEMM's device runtime: the SM count is the query's, never a device's.
#pragma once
#include <memory>

#include "jit.hpp"

namespace deep_gemm {
// `runtime->get_num_sms()` (the indexer launchers read it): the generator oracle sets it per query.
struct OracleRuntime {
    int num_sms = 0;
    int get_num_sms() const { return num_sms; }
};
inline auto runtime = std::make_shared<OracleRuntime>();
}  // namespace deep_gemm
