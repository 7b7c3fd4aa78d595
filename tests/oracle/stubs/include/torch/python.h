// Stand-in for torch/python.h: the heuristics only need ScalarType from it.
#pragma once
#include <c10/core/ScalarType.h>

// The generator oracle's epilogue headers name tensors in signatures they never call with one.
namespace at {
struct Tensor {
    ScalarType dtype = ScalarType::Float;
    ScalarType scalar_type() const { return dtype; }
    void* data_ptr() const { return nullptr; }
    long stride(int) const { return 1; }
};
}  // namespace at
namespace torch {
using at::Tensor;
}  // namespace torch
