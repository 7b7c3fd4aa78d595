"""jitwarm: no DeepGEMM JIT compile on the serving path."""
