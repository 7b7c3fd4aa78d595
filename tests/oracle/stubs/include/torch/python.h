// Stand-in for torch/python.h: the heuristics only need ScalarType from it.
#pragma once
#include <c10/core/ScalarType.h>

// The generator oracle's launchers take tensors: only their dtype (element size) is read;
// no data, shape or stride reaches a generated source. The indexer's launchers also check a
// schedule's shape (`sizes`: what the caller allocates) and that it lives on the GPU.
namespace at {
struct Device {
    bool operator==(const Device&) const { return true; }
};
struct Tensor {
    ScalarType dtype = ScalarType::Float;
    std::vector<long> sizes = {};
    long size(int i) const { return sizes.at(i); }
    long numel() const {
        long n = 1;
        for (const auto s : sizes) n *= s;
        return n;
    }
    bool is_cuda() const { return true; }
    bool is_contiguous() const { return true; }
    Device device() const { return {}; }
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
