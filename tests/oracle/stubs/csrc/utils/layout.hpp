// Stand-in for DeepGEMM's layout utilities: common.hpp includes it, the heuristics use none of it.
#pragma once
