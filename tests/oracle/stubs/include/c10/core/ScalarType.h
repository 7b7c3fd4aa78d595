// Stand-in for torch's ScalarType: the dtypes DeepGEMM's heuristics compare, their sizes, names.
#pragma once
// The real torch headers bring these in; the heuristic headers rely on them.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <vector>
#include <stdexcept>

namespace c10 {
enum class ScalarType { Char, Int, Float, BFloat16, Float8_e4m3fn };

constexpr auto kInt8 = ScalarType::Char;
constexpr auto kInt = ScalarType::Int;
constexpr auto kInt32 = ScalarType::Int;
constexpr auto kFloat = ScalarType::Float;
constexpr auto kFloat32 = ScalarType::Float;
constexpr auto kBFloat16 = ScalarType::BFloat16;
constexpr auto kFloat8_e4m3fn = ScalarType::Float8_e4m3fn;

inline size_t elementSize(ScalarType t) {
    switch (t) {
        case ScalarType::Char: return 1;
        case ScalarType::Int: return 4;
        case ScalarType::Float: return 4;
        case ScalarType::BFloat16: return 2;
        case ScalarType::Float8_e4m3fn: return 1;
    }
    throw std::runtime_error("unknown dtype");
}

inline const char* toString(ScalarType t) {
    switch (t) {
        case ScalarType::Char: return "Char";
        case ScalarType::Int: return "Int";
        case ScalarType::Float: return "Float";
        case ScalarType::BFloat16: return "BFloat16";
        case ScalarType::Float8_e4m3fn: return "Float8_e4m3fn";
    }
    return "?";
}
}  // namespace c10

namespace at {
using c10::ScalarType;
using namespace c10;
}  // namespace at
namespace torch {
using namespace c10;
}  // namespace torch
