"""One-command validation and benchmark of the CUDA backend on a lent GPU (``run.sh``/``run.py``).

Each step is a module run in its own process (``step_*.py``), so a crash or a hang in one leaves the
others their time; ``run.py --dry-run`` runs the same steps in numba-cuda's simulator at toy sizes.
"""
