"""minigrad's benchmarks: side-by-side timings against a hand-written NumPy ceiling and PyTorch CPU.

Run `python -m benchmarks --help`; results and the machine they came from are in BENCHMARKS.md.
Nothing here is part of the installed package, and minigrad never depends on PyTorch.
"""
