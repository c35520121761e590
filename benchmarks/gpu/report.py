"""The run's summary as a short text table, printed last (often only the tail comes back)."""

MIB = 2**20


def _num(value, spec):
    return format(value, spec) if isinstance(value, (int, float)) else "-"


def step_lines(summary):
    lines = [f"{'step':<10}{'status':<9}{'seconds':>8}{'bound':>7}  log"]
    for name, step in summary["steps"].items():
        lines.append(f"{name:<10}{step['status']:<9}{_num(step['seconds'], '.1f'):>8}"
                     f"{step['bound_s']:>7}  {step['log']}")
    return lines


def gemm_lines(result):
    lines = [f"GEMM vs {result.get('baseline', '?')}",
             f"{'n':>6} {'dtype':<8} {'var':>3} {'fastbp TF/s':>11} {'base TF/s':>10} "
             f"{'ratio':>9} {'rel.err':>8}  valid"]
    for e in result.get("results", []):
        lines.append(f"{e['n']:>6} {e['dtype']:<8} {e['variant']:>3} "
                     f"{_num(e.get('fastbp', {}).get('tflops'), '.4g'):>11} "
                     f"{_num(e['baseline'].get('tflops'), '.4g'):>10} "
                     f"{_num(e.get('ratio'), '.3g'):>9} "
                     f"{_num(e.get('error_vs_baseline'), '.1e'):>8}  {e.get('valid')}")
    return lines


def training_lines(result):
    lines = [f"training (float32) vs {result.get('baseline', '?')}",
             f"{'case':<12} {'fastbp s/ep':>11} {'base s/ep':>10} {'speed-up':>9}  accuracy f/b"]
    for case, e in result.get("cases", {}).items():
        f, b = e["fastbp"], e["baseline"]
        lines.append(f"{case:<12} {_num(f.get('median_epoch_s'), '.4g'):>11} "
                     f"{_num(b.get('median_epoch_s'), '.4g'):>10} "
                     f"{_num(e.get('speedup'), '.3g'):>9}"
                     f"  {_num(f.get('accuracy'), '.3f')} / {_num(b.get('accuracy'), '.3f')}")
    return lines


def memory_lines(result):
    if "case" not in result:
        return []
    peak, held, caches = (result.get(k) for k in ("peak_over_before", "held_after_fit",
                                                  "held_by_caches"))
    figures = ("no device memory to read (simulator)" if peak is None else
               f"peak +{peak / MIB:.1f} MiB, held after +{held / MIB:.1f} MiB "
               f"(caches {caches / MIB:.1f} MiB)")
    return [f"memory, fit of {result['case']}: {figures}; workspaces held after fit: "
            f"{result.get('leaves_workspaces_held')} {result.get('cached_after_fit')}"]


def version_lines(result):
    if "device" not in result:
        return []
    d, p = result["device"], result.get("packages", {})
    torch = result.get("torch")
    torch = torch.get("version") if isinstance(torch, dict) else None
    return [f"device {d.get('name')} cc {d.get('compute_capability')} driver {d.get('driver')} "
            f"toolkit {d.get('cuda_toolkit')}; numba {p.get('numba')} numba-cuda "
            f"{p.get('numba-cuda')} torch {torch}"]


def table(summary):
    """The summary table of ``summary`` (the document ``run.py`` writes to ``summary.json``)."""
    results = {name: step.get("result") or {} for name, step in summary["steps"].items()}
    lines = [f"fastbp GPU run, profile {summary['profile']}, {summary['started']}, "
             f"{summary.get('wall_s', 0):.0f} s", *step_lines(summary)]
    for name, render in (("gemm", gemm_lines), ("training", training_lines),
                         ("memory", memory_lines), ("versions", version_lines)):
        if results.get(name):
            # a step stopped half-way leaves a partial document: show what can be shown
            try:
                lines += ["", *render(results[name])]
            except (KeyError, TypeError, ValueError) as exc:
                lines += ["", f"{name}: cannot tabulate ({type(exc).__name__}: {exc})"]
    for name, result in results.items():
        for note in result.get("notes", []):
            if note.startswith("FAILED"):
                lines.append(f"{name}: {note}")
    return "\n".join(lines) + "\n"
