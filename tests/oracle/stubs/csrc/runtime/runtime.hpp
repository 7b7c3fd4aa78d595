// Stand-in for DeepGEMM's device runtime: the SM count is the query's, never a device's.
#pragma once
#include "jit.hpp"
