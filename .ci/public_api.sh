#!/usr/bin/env bash
# The CPU backend on Numba's documented API alone (FASTBP_NUMBA_PUBLIC_ONLY=1; see
# kernels/cpu/numba_path.py): the kernel, epoch, training and estimator tests, from an empty Numba
# cache of their own, so that the path every untested Numba release falls back to keeps working.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
export FASTBP_NUMBA_PUBLIC_ONLY=1 NUMBA_CACHE_DIR="$cache"
python -c "from fastbp.kernels.cpu.numba_path import PATH; assert not PATH.fast, PATH; print(PATH.describe())"
python -m pytest -q -p no:cacheprovider \
    tests/test_kernels_cpu_vs_reference.py tests/test_training_kernels.py tests/test_no_upcast.py \
    tests/test_cpu_epoch.py tests/test_forward_threads.py tests/test_fit.py \
    tests/test_estimators.py tests/test_disk_cache.py tests/test_numba_internals_audit.py \
    tests/test_epoch_chunks.py
