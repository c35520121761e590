#!/usr/bin/env bash
# The CUDA backend on a lent GPU, in one command from a fresh checkout:
#   bash benchmarks/gpu/run.sh            (results under $OUT, else benchmarks/results/gpu-run)
#   bash benchmarks/gpu/run.sh --dry-run  (the same steps in numba-cuda's simulator, no GPU)
# Further arguments go to run.py (--steps gemm,training reruns some steps). The machine's own
# packages are used as they are (nothing can be downloaded there), so fastbp is installed without
# dependencies; every step is bounded in time inside run.py.
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-benchmarks/results/gpu-run}"
mkdir -p "$OUT"
PYTHON="${PYTHON:-python3}"
start=$(date +%s)
linked=""
if ! timeout 45 "$PYTHON" -m pip install -q --no-deps --no-build-isolation -e . >"$OUT/install.log" 2>&1; then
    # Without build isolation pip builds with the machine's setuptools, which may be too old for
    # pyproject.toml. Imports from the repository root then still work if fastbp.kernels can be
    # found where the package mapping would put it.
    if [ ! -e fastbp/kernels ]; then
        ln -s ../kernels fastbp/kernels && linked=1
    fi
    echo "pip install failed (see the lines above); fastbp/kernels linked to kernels/, running from the source tree" | tee -a "$OUT/install.log"
fi
echo "install: $(( $(date +%s) - start )) s"
export PYTHONUNBUFFERED=1
"$PYTHON" benchmarks/gpu/run.py --out "$OUT" "$@"
status=$?
[ -n "$linked" ] && rm -f fastbp/kernels
exit $status
