"""
The cost of all the gradients: N + P against N × P
==================================================

Backpropagation computes the derivative of the loss with respect to every one of a network's
``P`` parameters in about ``N + P`` elementary steps (``N`` computing units); finite differences
need two forward passes per parameter, about ``N × P``. This example runs fastbp's gradient-cost
study (:mod:`fastbp.studies.gradient_cost`, the code behind ``fastbp bench gradient-cost``) at
small sizes: it counts both exactly, times both with the public API
(:meth:`~fastbp.Sequential.gradients` and :meth:`~fastbp.Sequential.numerical_gradients`),
checks that they agree, and plots time against ``P`` on log-log axes, where the slopes tell the
two growth rates apart.
"""

# %%
# The networks
# ------------
# One hidden ``tanh`` layer of ``h`` units between 16 inputs and 4 outputs, ``h`` from 4 to 256:
# ``N`` and ``P`` grow together, ``P`` over a 60-fold range. Each is differentiated on a batch of
# 32 rows, in float64.

import matplotlib.pyplot as plt
import numpy as np

from fastbp.studies import gradient_cost as gc

cases = gc.p_sweep(hidden_widths=(4, 8, 16, 32, 64, 128, 256), n_inputs=16, n_outputs=4,
                   n_samples=32)
for case in cases:
    c = case.counts
    print(f"{'-'.join(map(str, c.widths)):>10}  N = {c.n_nodes:4d}  P = {c.n_params:6,d}  "
          f"steps: backprop {c.backprop:8,d}, finite differences {c.numerical:12,d} "
          f"({c.ratio:,.0f}x)")

# %%
# Timing
# ------
# :func:`~fastbp.studies.gradient_cost.measure` times one forward pass, backpropagation and
# central differences (the fastest of repeated rounds), after checking that the two gradients
# agree to 1e-6 (relative). BLAS runs on one thread, as in the full study.

from threadpoolctl import threadpool_limits

with threadpool_limits(limits=1, user_api="blas"):
    measurements = [gc.measure(case, seed=0, min_time=0.05) for case in cases]
study = gc.Study("example", 1, measurements, seconds=0.0)
for m in measurements:
    print(f"P = {m.case.counts.n_params:6,d}: forward {m.forward_s * 1e6:8.1f} µs, "
          f"backprop {m.backprop_s * 1e6:8.1f} µs, finite differences "
          f"{m.numerical_s * 1e3:9.2f} ms ({m.numerical_over_backprop:,.0f}x backprop); "
          f"gradient difference {m.gradient_error:.1e}")
print("log-log slopes of time against P:",
      {method: round(slope, 2) for method, slope in study.slopes.items()})

# %%
# The plot
# --------
# Time against ``P`` for the three (the full study's figure, at smaller sizes). The dashed guides
# through the largest network are exact powers ``P²`` and ``P``. At these small sizes each call's
# fixed cost (Python, argument checks, buffers) is a large part of a forward pass or a
# backpropagation, which flattens all three curves, the lower two most; the full study
# (``fastbp bench gradient-cost``, up to P = 21,508) measures slopes of about 1.9 for finite
# differences and 0.5 for backpropagation. Either way the gap grows with ``P``: by the step counts,
# finite differences cost between ``2P/3`` and ``P`` times as much as backpropagation.

params = np.array([m.case.counts.n_params for m in measurements], dtype=np.float64)
fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
for method, label, marker in (("numerical", "finite differences", "o"),
                              ("backprop", "backpropagation", "s"),
                              ("forward", "one forward pass", "^")):
    ax.loglog(params, [getattr(m, f"{method}_s") for m in measurements], marker=marker,
              label=f"{label} (slope {study.slopes[method]:.2f})")
ends = params[[0, -1]]
for method, power, text in (("numerical", 2, "P²"), ("backprop", 1, "P")):
    end = getattr(measurements[-1], f"{method}_s")
    ax.loglog(ends, end * (ends / ends[-1]) ** power, ls="--", lw=0.8, color="0.5")
    ax.annotate(f"∝ {text}", (ends[0], end * (ends[0] / ends[-1]) ** power), color="0.4",
                textcoords="offset points", xytext=(4, 4))
ax.set_xlabel("parameters P")
ax.set_ylabel("time (s)")
ax.set_title("Cost of all gradients, batch of 32, float64")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
plt.show()

# %%
# At scale
# --------
# The step counts need no timing. For the worked example's network, ``N = 10,000`` units and
# ``P = 100,000`` parameters, backpropagation's ``N + P`` is 110,000 steps per sample; finite
# differences' ``N × P`` is a billion.

n, p, n_plus_p, n_times_p = gc.WORKED_EXAMPLE
print(f"N = {n:,}, P = {p:,}: N + P = {n_plus_p:,}, N x P = {n_times_p:,} "
      f"({n_times_p / n_plus_p:,.0f}x)")
