// Stand-in for torch/python.h: the heuristics only need ScalarType from it.
#pragma once
#include <c10/core/ScalarType.h>
