"""Holds the sitecustomize.py that ``jitwarm run`` puts first on PYTHONPATH."""
