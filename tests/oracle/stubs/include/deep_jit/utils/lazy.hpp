// Stand-in for DeepJIT's LazyInit: a shared instance made on first use.
#pragma once
#include <functional>
#include <memory>

namespace deep_jit {
template <typename T>
class LazyInit {
    std::function<std::shared_ptr<T>()> make;
    std::shared_ptr<T> ptr;

public:
    explicit LazyInit(std::function<std::shared_ptr<T>()> f) : make(std::move(f)) {}
    T* operator->() {
        if (not ptr) ptr = make();
        return ptr.get();
    }
};
}  // namespace deep_jit
