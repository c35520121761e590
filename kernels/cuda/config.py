"""Launch geometry of the CUDA kernels: the one place block sizes and tile shapes live.

Launchers read these names at every call, and a GEMM is compiled once per tile shape (the shape is a
compile-time constant of the kernel built for it), so tests can shrink them with
``monkeypatch.setattr(cuda_config, "TILE", 4)`` and get kernels for the small tiles. Constraints:
``BLOCK_M % THREAD_M == 0``, ``BLOCK_N % THREAD_N == 0``, and every block at most 1024 threads.
"""

#: Which GEMM ``dense_forward``/``dense_backward`` use: 1, the plain shared-memory tiled kernel, or
#: 2, the register-blocked one.
GEMM_VARIANT = 2

#: Variant 1: a ``TILE x TILE`` block of threads computes a ``TILE x TILE`` tile of the output,
#: one element per thread, stepping ``TILE`` along the reduction through shared memory.
TILE = 16

#: Variant 2: a block computes a ``BLOCK_M x BLOCK_N`` tile, stepping ``BLOCK_K`` along the
#: reduction; each of its ``(BLOCK_M / THREAD_M) * (BLOCK_N / THREAD_N)`` threads accumulates
#: ``THREAD_M x THREAD_N`` outputs in registers (the classic 128 x 128 x 8 tile, 8 x 8 per thread).
BLOCK_M = 128
BLOCK_N = 128
BLOCK_K = 8
THREAD_M = 8
THREAD_N = 8

#: Threads per block of the elementwise kernels (grid-stride loops over every element).
ELEMENTWISE_THREADS = 256

#: Threads per block of the row kernels (softmax, loss): one thread per row, partial sums reduced
#: through shared memory.
ROW_THREADS = 128

#: Block of the column-sum reduction (``db``): ``COLUMN_SUM_COLS`` columns, each summed by
#: ``COLUMN_SUM_ROWS`` threads striding down the rows, then reduced through shared memory.
COLUMN_SUM_COLS = 32
COLUMN_SUM_ROWS = 8

#: Most blocks a reduction (loss, penalty) launches: its threads stride over the rest, so its
#: float64 partial sums (one per block) stay few.
REDUCTION_BLOCKS = 128
