// The generator oracle: DeepGEMM's own SM100 1D1D GEMM source generator
// (SM100FP8FP4Gemm1D1DRuntime::compile_and_launch, cut verbatim out of a pinned wheel's
// csrc/jit_kernels/impls/sm100_fp8_fp4_gemm_1d1d.hpp by tests/_generator_oracle.py, with the
// to_string helpers of impls/runtime_utils.hpp and the build's epilogue header), fed the
// GemmDesc each launcher fills and the configuration the build's own heuristic picks for it.
//
// stdin, one query per line:
//   gemm GEMM_TYPE M N K GROUPS NUM_SMS GRAN_K CD
//     GEMM_TYPE Normal|MGroupedContiguous|MGroupedMasked|Batched; FP8 (e4m3) A and B,
//     K-major, compiled_dims "nk"; CD bf16|fp32; M is expected_m for MGroupedMasked.
//   hc N K M NUM_SPLITS
//     sm100_tf32_hc_prenorm_gemm itself (cut verbatim out of sm100_tf32_hc_prenorm_gemm.hpp).
//   paged HEADS HEAD_DIM NEXT_N BLOCK_KV QK NUM_SMS VARLEN LOGITS WEIGHTS
//     sm100_paged_mqa_logits (impls/sm100_mqa_logits.hpp) with the arguments the build's
//     fp8_fp4_paged_mqa_logits (apis/attention.hpp) passes it: QK fp4 (packed, with int32 UE8M0
//     scales) or fp8 (2.8.0: without scales; 2.8.2: with them); 2D context lengths; VARLEN 0|1;
//     LOGITS and WEIGHTS fp32|bf16 (2.8.2's launcher reads neither: its API fixes them).
//   mqa HEADS HEAD_DIM QK NUM_SMS CLEAN MAX_SEQLEN_K LOGITS WEIGHTS SCHEDULE_META
//     sm100_mqa_logits (the prefill kernel, impls/sm100_mqa_logits.hpp) with the arguments the
//     build's fp8_fp4_mqa_logits (apis/attention.hpp) passes it: block_q 128 / HEADS, block_kv
//     256 (2.8.0; 2.8.2's config fixes its own); QK as for paged; CLEAN 0|1 and MAX_SEQLEN_K
//     (0: uncompressed logits) as the caller passes them; LOGITS and WEIGHTS fp32|bf16 (2.8.2
//     reads neither); SCHEDULE_META 0|1: whether the caller passes a get_mqa_logits_metadata
//     workspace (sized as that function sizes it).
//   sm90mqa HEADS HEAD_DIM NUM_SMS CLEAN MAX_SEQLEN_K LOGITS
//     sm90_fp8_mqa_logits (the SM90 prefill kernel, impls/sm90_fp8_mqa_logits.hpp) with the
//     arguments the build's fp8_mqa_logits / fp8_fp4_mqa_logits (apis/attention.hpp) passes it
//     on an SM90: block_q 128 / HEADS, block_kv 256; CLEAN 0|1 and MAX_SEQLEN_K (0: uncompressed)
//     as the caller passes them, LOGITS fp32|bf16 (2.8.2's launcher takes none of the three).
//   pmeta BATCH NEXT_N NUM_SMS VARLEN
//     sm100_paged_mqa_logits_metadata as the build's get_paged_mqa_logits_metadata calls it.
// stdout per query: "ok TAG ARCH NBYTES" (TAG: what the call handed DeepJIT, "tag" for gemm,
// whose tags are its launchers' literals; ARCH: the arch override, "-" when none), then the
// NBYTES of the source DeepJIT was handed and a newline; or "err <message>".
#include <iostream>
#include <sstream>
#include <string>

#include "csrc/jit_kernels/heuristics/sm100.hpp"
#include "generator_cut.hpp"

using namespace deep_gemm;

static GemmType parse_gemm_type(const std::string& s) {
    if (s == "Normal") return GemmType::Normal;
    if (s == "MGroupedContiguous") return GemmType::MGroupedContiguous;
    if (s == "MGroupedMasked") return GemmType::MGroupedMasked;
    if (s == "Batched") return GemmType::Batched;
    throw std::runtime_error("bad gemm type " + s);
}

static std::string compiled() {
    const auto& done = jit->last;
    std::ostringstream out;
    out << "ok " << done.tag << ' ' << done.options.arch.value_or("-") << ' '
        << done.source.size() << '\n' << done.source;
    return out.str();
}

static std::string gemm_query(std::istringstream& in) {
    std::string gemm_type_name, cd;
    int m, n, k, groups, num_sms, gran_k;
    in >> gemm_type_name >> m >> n >> k >> groups >> num_sms >> gran_k >> cd;
    if (not in) throw std::runtime_error("malformed gemm query");
    const auto gemm_type = parse_gemm_type(gemm_type_name);
    // As the launchers of sm100_fp8_fp4_gemm_1d1d.hpp fill it (contiguous: one group of m rows
    // expected; masked: m is expected_m, every group expected).
    GemmDesc desc{
        .gemm_type = gemm_type,
        .kernel_type = KernelType::Kernel1D1D,
        .m = m, .n = n, .k = k, .num_groups = groups,
        .a_dtype = torch::kFloat8_e4m3fn, .b_dtype = torch::kFloat8_e4m3fn,
        .cd_dtype = cd == "bf16" ? torch::kBFloat16 : torch::kFloat,
        .major_a = cute::UMMA::Major::K, .major_b = cute::UMMA::Major::K,
        .with_accumulation = false,
        .num_sms = num_sms, .tc_util = 100,
        .compiled_dims = "nk",
    };
    if (gemm_type == GemmType::MGroupedContiguous) {
        desc.ensure_zero_padding = true;  // the API's default
        desc.expected_m = m, desc.expected_n = n, desc.expected_k = k, desc.expected_num_groups = 1;
    } else if (gemm_type == GemmType::MGroupedMasked) {
        desc.expected_m = m, desc.expected_n = n, desc.expected_k = k;
        desc.expected_num_groups = groups;
    }
    const auto config = get_best_config<SM100ArchSpec>(desc);
    SM100FP8FP4Gemm1D1DRuntime::Args args{
        .gemm_desc = desc,
        .gemm_config = config,
        .options = {},
#ifdef JITWARM_EPILOGUE_CLASS
        // resolve_epilogue_class with no class, alpha or SFD given
        .epilogue_class = std::make_shared<IdentityEpilogue>(),
#else
        // make_epilogue_input(m, n) with no type, alpha or SFD given
        .epilogue = make_epilogue_input(m, n),
#endif
        .gran_k_a = gran_k,
        .gran_k_b = gran_k,
        .k_alignment = gran_k,
        .grouped_layout = nullptr,
    };
    SM100FP8FP4Gemm1D1DRuntime::compile_and_launch("tag", args);
    return compiled();
}

static std::string hc_query(std::istringstream& in) {
    int n, k, m, num_splits;
    in >> n >> k >> m >> num_splits;
    if (not in) throw std::runtime_error("malformed hc query");
    const at::Tensor a{torch::kBFloat16}, b{torch::kFloat}, d{torch::kFloat}, sqr{torch::kFloat};
    sm100_tf32_hc_prenorm_gemm(a, b, d, sqr, m, n, k, num_splits);
    return compiled();
}

static at::ScalarType dtype_of(const std::string& s) {
    if (s == "fp32") return torch::kFloat;
    if (s == "bf16") return torch::kBFloat16;
    if (s == "fp4") return kPackedFP4;
    if (s == "fp8") return torch::kFloat8_e4m3fn;
    throw std::runtime_error("bad dtype " + s);
}

static std::string paged_query(std::istringstream& in) {
    int heads, head_dim, next_n, block_kv, num_sms, varlen;
    std::string qk_name, logits_name, weights_name;
    in >> heads >> head_dim >> next_n >> block_kv >> qk_name >> num_sms >> varlen >> logits_name
       >> weights_name;
    if (not in) throw std::runtime_error("malformed paged query");
    runtime->num_sms = num_sms;
    const auto qk = dtype_of(qk_name);
    const int batch = 8, num_kv_blocks = 64, block_table_stride = 8;
    const int logits_stride = 3072;  // holds whole KV splits of 256 (2.8.0) and 384 (2.8.2)
    const at::Tensor q{qk}, sf_q{torch::kInt}, kv{qk}, weights{dtype_of(weights_name)};
    const at::Tensor lens{torch::kInt}, logits{dtype_of(logits_name)}, table{torch::kInt};
    const at::Tensor indices{torch::kInt}, schedule{torch::kInt, {num_sms + 1, 2}};
#ifdef JITWARM_MQA_LOGITS_CONFIG
    const at::Tensor kv_sf{torch::kInt};
    const MQALogitsConfig config(heads, head_dim, qk, true);
    sm100_paged_mqa_logits(config, q, sf_q, kv, kv_sf, weights, lens, logits, table, indices,
                           schedule, batch * next_n, num_kv_blocks, block_kv, logits_stride,
                           block_table_stride);
#else
    const bool is_mx_sf = qk == kPackedFP4;  // FP4 asserts scales; FP8 Q comes without them here
    const at::Tensor kv_sf{is_mx_sf ? torch::kInt : torch::kFloat};
    const std::optional<at::Tensor> q_sf = is_mx_sf ? std::optional(sf_q) : std::nullopt;
    sm100_paged_mqa_logits(q, q_sf, kv, kv_sf, weights, lens, logits, table, indices, schedule,
                           logits.scalar_type(), batch, batch * next_n, next_n, heads, head_dim,
                           num_kv_blocks, block_kv, true, varlen != 0, logits_stride,
                           block_table_stride, num_sms, 256, 16, is_mx_sf, qk);
#endif
    return compiled();
}

static std::string mqa_query(std::istringstream& in) {
    int heads, head_dim, num_sms, clean, max_seqlen_k, with_schedule;
    std::string qk_name, logits_name, weights_name;
    in >> heads >> head_dim >> qk_name >> num_sms >> clean >> max_seqlen_k >> logits_name
       >> weights_name >> with_schedule;
    if (not in) throw std::runtime_error("malformed mqa query");
    runtime->num_sms = num_sms;
    const auto qk = dtype_of(qk_name);
    const int seq_len = 1024, seq_len_kv = 4096, stride_logits = 5120;
    const int block_q = 128 / heads;  // the API's
    const at::Tensor q{qk}, sf_q{torch::kInt}, kv{qk}, weights{dtype_of(weights_name)};
    const at::Tensor ks{torch::kInt}, ke{torch::kInt}, logits{dtype_of(logits_name)};
    std::optional<at::Tensor> schedule;
    if (with_schedule)
        schedule = at::Tensor{torch::kInt, {get_mqa_logits_metadata_num_words(seq_len, block_q, num_sms)}};
#ifdef JITWARM_MQA_LOGITS_CONFIG
    const at::Tensor kv_sf{torch::kInt};
    const MQALogitsConfig config(heads, head_dim, qk, false);
    sm100_mqa_logits(config, q, sf_q, kv, kv_sf, weights, ks, ke, logits, seq_len, seq_len_kv,
                     stride_logits, schedule);
#else
    const bool is_mx_sf = qk == kPackedFP4;  // as for paged
    const at::Tensor kv_sf{is_mx_sf ? torch::kInt : torch::kFloat};
    const std::optional<at::Tensor> q_sf = is_mx_sf ? std::optional(sf_q) : std::nullopt;
    sm100_mqa_logits(q, q_sf, kv, kv_sf, weights, ks, ke, logits, logits.scalar_type(), seq_len,
                     seq_len_kv, max_seqlen_k, stride_logits, heads, head_dim, block_q, 256,
                     clean != 0, is_mx_sf, qk, schedule);
#endif
    return compiled();
}

static std::string sm90_mqa_query(std::istringstream& in) {
    int heads, head_dim, num_sms, clean, max_seqlen_k;
    std::string logits_name;
    in >> heads >> head_dim >> num_sms >> clean >> max_seqlen_k >> logits_name;
    if (not in) throw std::runtime_error("malformed sm90mqa query");
    runtime->num_sms = num_sms;
    const int seq_len = 1024, seq_len_kv = 4096, stride_logits = 5120;
    const at::Tensor q{torch::kFloat8_e4m3fn}, kv{torch::kFloat8_e4m3fn}, kv_sf{torch::kFloat};
    const at::Tensor weights{torch::kFloat}, ks{torch::kInt}, ke{torch::kInt};
    const at::Tensor logits{dtype_of(logits_name)};
    struct Sm90 {  // the launcher asserts an SM90; back to the SM100 default after it
        Sm90() { jit->device.arch_major = 9; }
        ~Sm90() { jit->device.arch_major = 10; }
    } sm90;
#ifdef JITWARM_SM90_MQA_FLAGS
    sm90_fp8_mqa_logits(q, kv, kv_sf, weights, ks, ke, logits, logits.scalar_type(), seq_len,
                        seq_len_kv, max_seqlen_k, stride_logits, heads, head_dim, 128 / heads,
                        256, clean != 0);
#else
    sm90_fp8_mqa_logits(q, kv, kv_sf, weights, ks, ke, logits, seq_len, seq_len_kv,
                        stride_logits, heads, head_dim, 128 / heads, 256);
#endif
    return compiled();
}

static std::string pmeta_query(std::istringstream& in) {
    int batch, next_n, num_sms, varlen;
    in >> batch >> next_n >> num_sms >> varlen;
    if (not in) throw std::runtime_error("malformed pmeta query");
    const at::Tensor lens{torch::kInt}, schedule{torch::kInt, {num_sms + 1, 2}};
    static int indices[1];
#ifdef JITWARM_MQA_LOGITS_CONFIG
    sm100_paged_mqa_logits_metadata(lens, schedule, batch, num_sms, indices);
#else
    sm100_paged_mqa_logits_metadata(lens, schedule, batch, batch * next_n, next_n, num_sms, true,
                                    varlen != 0, varlen ? indices : nullptr);
#endif
    return compiled();
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
            else if (kind == "hc") answer = hc_query(in);
            else if (kind == "paged") answer = paged_query(in);
            else if (kind == "mqa") answer = mqa_query(in);
            else if (kind == "pmeta") answer = pmeta_query(in);
            else if (kind == "sm90mqa") answer = sm90_mqa_query(in);
            else throw std::runtime_error("unknown query " + kind);
        } catch (const std::exception& e) {
            answer = std::string("err ") + e.what();
        }
        std::cout << answer << '\n';
    }
    return 0;
}
