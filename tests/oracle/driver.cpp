// The oracle: DeepGEMM's own kernel-selection heuristics, compiled from a pinned wheel's headers
// (copied unchanged next to this file's build by tests/_oracle.py) and asked one query per line.
//
// stdin, one query per line (whitespace-separated):
//   gemm ARCH GEMM_TYPE KERNEL_TYPE M N K GROUPS A B CD NUM_SMS EXPECTED_M EXPECTED_GROUPS
//        ALIGNMENT BLOCK_M_MULTIPLE BLOCK_N_MULTIPLE WITH_ACCUMULATION
//     ARCH sm90|sm100; GEMM_TYPE a GemmType enumerator (Normal, MGroupedContiguous, ...);
//     KERNEL_TYPE 1D1D|1D2D|NoSF; A, B, CD bf16|fp32|fp8|fp4; EXPECTED_* 0 = unset.
//   mega NUM_RANKS NUM_EXPERTS MAX_TOKENS_PER_RANK TOPK NUM_TOKENS MMA(fp8xfp4|bf16xbf16)
// stdout, one line per query: "ok" and every field of the chosen config, or "err <message>"
// when the library rejects the query (an assertion of its own).
#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <tuple>

#include "csrc/jit_kernels/heuristics/sm90.hpp"
#include "csrc/jit_kernels/heuristics/sm100.hpp"
#include "mega_block.hpp"  // get_block_config_for_mega_moe, cut out of heuristics/mega_moe.hpp

using namespace deep_gemm;

static at::ScalarType parse_dtype(const std::string& s) {
    if (s == "bf16") return torch::kBFloat16;
    if (s == "fp32") return torch::kFloat;
    if (s == "fp8") return torch::kFloat8_e4m3fn;
    if (s == "fp4") return kPackedFP4;
    throw std::runtime_error("bad dtype " + s);
}

static GemmType parse_gemm_type(const std::string& s) {
    if (s == "Normal") return GemmType::Normal;
    if (s == "MGroupedContiguous") return GemmType::MGroupedContiguous;
    if (s == "MGroupedMasked") return GemmType::MGroupedMasked;
    if (s == "KGroupedContiguous") return GemmType::KGroupedContiguous;
    if (s == "Batched") return GemmType::Batched;
    throw std::runtime_error("bad gemm type " + s);
}

static KernelType parse_kernel_type(const std::string& s) {
    if (s == "1D1D") return KernelType::Kernel1D1D;
    if (s == "1D2D") return KernelType::Kernel1D2D;
    if (s == "NoSF") return KernelType::KernelNoSF;
    throw std::runtime_error("bad kernel type " + s);
}

static std::string gemm_query(std::istringstream& in) {
    std::string arch, gemm_type, kernel_type, a, b, cd;
    int m, n, k, groups, num_sms, expected_m, expected_groups, alignment, bm_mult, bn_mult, acc;
    in >> arch >> gemm_type >> kernel_type >> m >> n >> k >> groups >> a >> b >> cd >> num_sms >>
        expected_m >> expected_groups >> alignment >> bm_mult >> bn_mult >> acc;
    if (not in) throw std::runtime_error("malformed gemm query");
    heuristics_runtime->set_mk_alignment_for_contiguous_layout(alignment);
    heuristics_runtime->set_block_size_multiple_of(bm_mult, bn_mult);
    GemmDesc desc{
        .gemm_type = parse_gemm_type(gemm_type),
        .kernel_type = parse_kernel_type(kernel_type),
        .m = m, .n = n, .k = k, .num_groups = groups,
        .a_dtype = parse_dtype(a), .b_dtype = parse_dtype(b), .cd_dtype = parse_dtype(cd),
        .major_a = cute::UMMA::Major::K, .major_b = cute::UMMA::Major::K,
        .with_accumulation = acc != 0,
        .num_sms = num_sms, .tc_util = 100,
        .compiled_dims = "nk",
        .expected_m = expected_m, .expected_num_groups = expected_groups,
    };
    GemmConfig c;
    if (arch == "sm90") c = get_best_config<SM90ArchSpec>(desc);
    else if (arch == "sm100") c = get_best_config<SM100ArchSpec>(desc);
    else throw std::runtime_error("bad arch " + arch);
    const auto& l = c.layout;
    const auto& s = c.storage_config;
    const auto& p = c.pipeline_config;
    const auto& r = c.launch_config;
    std::ostringstream out;
    out << "ok " << l.swap_ab << ' ' << l.block_m << ' ' << l.block_n << ' ' << l.block_k << ' '
        << l.cluster_m << ' ' << l.cluster_n << ' ' << s.load_block_m << ' ' << s.load_block_n << ' '
        << s.store_block_m << ' ' << s.store_block_n << ' ' << s.swizzle_a_mode << ' '
        << s.swizzle_b_mode << ' ' << s.swizzle_cd_mode << ' ' << p.smem_size << ' ' << p.num_stages
        << ' ' << p.num_tma_store_stages << ' ' << r.num_sms << ' ' << r.num_sms_per_cluster << ' '
        << r.num_threads << ' ' << r.num_tma_threads << ' ' << r.num_math_threads << ' '
        << r.num_non_epilogue_threads << ' ' << r.num_epilogue_threads;
    return out.str();
}

static std::string mega_query(std::istringstream& in) {
    int ranks, experts, max_tokens, topk, tokens;
    std::string mma;
    in >> ranks >> experts >> max_tokens >> topk >> tokens >> mma;
    if (not in) throw std::runtime_error("malformed mega query");
    const auto config = get_block_config_for_mega_moe(
        ranks, experts, max_tokens, topk, tokens, parse_mma_kind(mma));
    std::ostringstream out;
    out << "ok";
    std::apply([&](const auto&... v) { ((out << ' ' << v), ...); }, config);
    return out.str();
}

int main() {
    std::ios::sync_with_stdio(false);
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string kind;
        in >> kind;
        std::string answer;
        try {
            if (kind == "gemm") answer = gemm_query(in);
            else if (kind == "mega") answer = mega_query(in);
            else throw std::runtime_error("unknown query " + kind);
        } catch (const std::exception& e) {
            answer = std::string("err ") + e.what();
        }
        std::cout << answer << '\n';
    }
    return 0;
}
