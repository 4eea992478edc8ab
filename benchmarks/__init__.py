"""Speed comparisons of the ``implicit`` package against peers, run side by side in one process.

Run ``python -m benchmarks --help``. Each suite writes JSON with provenance to ``implicit/results/benchmarks/``;
the book's performance appendix renders the latest files.
"""
