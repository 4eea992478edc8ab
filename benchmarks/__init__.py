"""Speed comparisons of the ``implicit`` package against peers, run side by side in one process.

Run ``python -m benchmarks --help``. Each suite writes JSON with provenance to ``benchmarks/results/``; the book's
performance appendix renders the latest files.
"""
