// Stand-in for torch/python.h: the heuristics only need ScalarType from it.
#pragma once
#include <c10/core/ScalarType.h>

// The generator oracle's launchers take tensors: only their dtype (element size) is read;
// no data, shape or stride reaches a generated source.
namespace at {
struct Tensor {
    ScalarType dtype = ScalarType::Float;
    ScalarType scalar_type() const { return dtype; }
    void* data_ptr() const { return nullptr; }
    template <typename T>
    T* data_ptr() const { return nullptr; }
    long stride(int) const { return 1; }
    size_t element_size() const { return elementSize(dtype); }
};
}  // namespace at
namespace torch {
using at::Tensor;
}  // namespace torch
