"""How the gradient-cost study is shown: a plain-text report, JSON, and a log-log plot."""

import numpy as np

from .gradient_cost import WORKED_EXAMPLE


def _time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _table(header, rows):
    widths = [max(len(str(row[c])) for row in [header, *rows]) for c in range(len(header))]
    lines = ["  ".join(str(cell).rjust(w) for cell, w in zip(row, widths))
             for row in [header, *rows]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def format_report(study):
    """The study as plain text: one table per sweep, the slopes, the targets, the worked example."""
    header = ("widths", "n", "N", "P", "N+P", "N*P", "steps BP", "steps FD", "FD/BP steps",
              "forward", "backprop", "numerical", "FD/BP time", "BP/fwd", "grad err")
    parts = []
    for name, title in (("P", "P sweep (N and P grow together)"),
                        ("N", "N sweep (P held near constant, N grows)")):
        rows = []
        for m in study.sweep(name):
            c = m.case.counts
            rows.append(("-".join(map(str, c.widths)), m.case.n_samples, f"{c.n_nodes:,}",
                         f"{c.n_params:,}", f"{c.n_nodes + c.n_params:,}",
                         f"{c.n_nodes * c.n_params:,}", f"{c.backprop:,}", f"{c.numerical:,}",
                         f"{c.ratio:,.0f}", _time(m.forward_s), _time(m.backprop_s),
                         _time(m.numerical_s), f"{m.numerical_over_backprop:,.0f}",
                         f"{m.backprop_over_forward:.2f}", f"{m.gradient_error:.1e}"))
        if rows:
            parts.append(f"{title}\n{_table(header, rows)}")
    low, high = study.sweep("P")[0].case.counts.n_params, study.sweep("P")[-1].case.counts.n_params
    parts.append(f"Log-log slope of time against P over the P sweep ({low:,} to {high:,}, "
                 f"{high / low:.0f}x):\n"
                 + "\n".join(f"  {method:<10} {slope:.2f}"
                             for method, slope in study.slopes.items()))
    parts.append("Targets:\n" + "\n".join(f"  [{'pass' if ok else 'FAIL'}] {text}: {value}"
                                          for text, value, ok in study.targets()))
    n, p_, total, product = WORKED_EXAMPLE
    parts.append("Worked example (case 9): N + P against N x P\n"
                 + _table(("N", "P", "N+P", "N*P"), [(f"{n:,}", f"{p_:,}", f"{total:,}",
                                                      f"{product:,}")])
                 + "\nSteps are per sample: BP = 2(N+P) + E_hidden, FD = 2P(N+P) (two forward "
                   "passes per parameter).")
    parts.append(f"Profile {study.profile}, float64, CPU backend, BLAS threads "
                 f"{study.blas_threads}, {study.seconds:.0f} s in all; times are the fastest "
                 "round, every point measured.")
    return "\n\n".join(parts)


def to_json(study, machine=None):
    """The study as a JSON-ready dict (``machine`` is stored as given, e.g. ``fastbp info``'s)."""
    rows = []
    for m in study.measurements:
        c = m.case.counts
        rows.append(dict(sweep=m.case.sweep, widths=list(c.widths), n_samples=m.case.n_samples,
                         N=c.n_nodes, P=c.n_params, hidden_edges=c.n_hidden_edges,
                         steps_forward=c.forward, steps_backprop=c.backprop,
                         steps_numerical=c.numerical, forward_s=m.forward_s,
                         backprop_s=m.backprop_s, numerical_s=m.numerical_s,
                         numerical_over_backprop=m.numerical_over_backprop,
                         backprop_over_forward=m.backprop_over_forward, rounds=m.rounds,
                         gradient_error=m.gradient_error))
    return dict(profile=study.profile, dtype="float64", backend="cpu",
                blas_threads=study.blas_threads, seconds=study.seconds, slopes=study.slopes,
                targets=[dict(target=t, measured=v, passed=bool(ok))
                         for t, v, ok in study.targets()],
                worked_example=dict(zip(("N", "P", "N_plus_P", "N_times_P"), WORKED_EXAMPLE)),
                measurements=rows, machine=machine)


def plot(study, path):
    """Write a log-log PNG of time against P for both methods (and one forward pass).

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install fastbp[plot]``).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    p = study.sweep("P")
    params = [m.case.counts.n_params for m in p]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    for method, label, marker in (("numerical", "finite differences", "o"),
                                  ("backprop", "backpropagation", "s"),
                                  ("forward", "one forward pass", "^")):
        ax.loglog(params, [getattr(m, f"{method}_s") for m in p], marker=marker,
                  label=f"{label} (slope {study.slopes[method]:.2f})")
    # guides through the largest size: where each method would be with an exact power law
    top = np.array([params[0], params[-1]], dtype=np.float64)
    for method, power, text in (("numerical", 2, "P²"), ("backprop", 1, "P")):
        end = getattr(p[-1], f"{method}_s")
        ax.loglog(top, end * (top / top[-1]) ** power, ls="--", lw=0.8, color="0.5")
        ax.annotate(f"∝ {text}", (top[0], end * (top[0] / top[-1]) ** power), color="0.4",
                    textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("parameters P")
    ax.set_ylabel("time (s)")
    ax.set_title(f"Cost of all gradients, batch of {p[0].case.n_samples}, float64")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)
