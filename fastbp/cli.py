"""The ``fastbp`` command (also ``python -m fastbp``): ``demo``, ``warmup``,
``bench gradient-cost``, ``info``, ``inspect``.

Every command imports what it needs only when it runs, so ``fastbp --help`` answers at once. A bad
argument or a failed run ends with one ``fastbp: error: ...`` line on stderr and a non-zero exit
status (2 for usage errors, 1 for failures).
"""

import argparse
import sys
from pathlib import Path

DESCRIPTION = "fastbp: dense neural networks trained by backpropagation on Numba kernels."


class _Failure(Exception):
    """A run that cannot go on: reported as one error line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (argparse prints the whole usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _seed(text):
    """A seed NumPy and scikit-learn both take: an integer in [0, 2**32)."""
    value = _int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to {2**32 - 1}, got {value}")
    return value


def _output_file(suffix):
    """An argparse type: a path ending in ``suffix`` whose folder exists."""

    def check(text):
        path = Path(text)
        if path.suffix.lower() != suffix:
            raise argparse.ArgumentTypeError(f"expected a {suffix} file name, got {text!r}")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(f"folder {str(path.parent)!r} does not exist")
        return path

    return check


def build_parser():
    """The argument parser of the ``fastbp`` command."""
    parser = _Parser(prog="fastbp", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="train on scikit-learn's digits and race scikit-learn's MLPClassifier",
        description="Train a 64-64-10 MLP on scikit-learn's bundled digits with a progress bar, "
                    "check its gradients against the NumPy reference backend on one batch, and "
                    "print test accuracy, time per epoch and the speed-up over scikit-learn's "
                    "MLPClassifier trained in the same run on the same data and settings.")
    demo.add_argument("--epochs", type=_positive_int, default=30, help="epochs (default 30)")
    demo.add_argument("--seed", type=_seed, default=0, help="seed of split, weights and "
                                                           "shuffling (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    warmup = commands.add_parser(
        "warmup", help="compile the CPU kernels into Numba's cache ahead of the first fit",
        description="Compile every activation, loss and optimizer kernel, the training epoch "
                    "(with and without dropout), the gradients and the forward pass that "
                    "Sequential.forward and the estimators' predict and predict_proba take, in "
                    "float32 and float64, into Numba's on-disk cache (NUMBA_CACHE_DIR if set), so "
                    "that later processes on this machine fit and predict without JIT compiling: "
                    "for container images and CI runners. With --model, compile exactly what one "
                    "saved model needs (its dtype, activations, loss and optimizer).")
    what = warmup.add_mutually_exclusive_group()
    what.add_argument("--dtype", choices=("float32", "float64"), action="append",
                      help="compile for this dtype (repeatable; default: both)")
    what.add_argument("--model", metavar="FILE",
                      help="compile only what this model file (written by fastbp.save) needs; "
                           "the file is verified as fastbp.load verifies it")
    warmup.add_argument("--quiet", action="store_true", help="no progress bar")

    bench = commands.add_parser("bench", help="run a benchmark study",
                                description="Run one of fastbp's benchmark studies.")
    studies = bench.add_subparsers(dest="study", required=True, metavar="STUDY")
    cost = studies.add_parser(
        "gradient-cost", help="backpropagation (N+P) against finite differences (NxP)",
        description="Time backpropagation, one-parameter-at-a-time central differences and one "
                    "forward pass on MLPs whose P grows over two orders of magnitude (and, "
                    "separately, whose N grows at fixed P), on the CPU backend in float64, with "
                    "both gradients checked against each other. Prints exact step counts, times, "
                    "ratios, the log-log slopes of time against P and the acceptance targets.")
    cost.add_argument("--quick", action="store_true",
                      help="smaller sizes (well under 2 minutes); default: the full study "
                           "(a few minutes)")
    cost.add_argument("--plot", type=_output_file(".png"), metavar="FILE",
                      help="also write a log-log PNG of time against P (needs matplotlib: "
                           "pip install 'fastbp[plot]')")
    cost.add_argument("--json", type=_output_file(".json"), metavar="FILE",
                      help="also write every figure, and this machine's `fastbp info`, as JSON")
    cost.add_argument("--seed", type=_seed, default=0, help="seed of weights and data (default 0)")

    commands.add_parser("info", help="versions, BLAS, threading, SIMD and CUDA in use",
                        description="Print the versions of fastbp and its dependencies, the BLAS "
                                    "in use, the path the CPU kernels take through Numba (its "
                                    "internals, or its public API alone and why), Numba's "
                                    "threading layer and thread count, the CPU's SIMD features "
                                    "and whether CUDA is available (and which GPU).")

    inspect = commands.add_parser(
        "inspect", help="print what a saved model file holds, after verifying its checksum",
        description="Print what a file written by fastbp.save holds: its kind, format and fastbp "
                    "versions, dtype, loss, layers, parameter count, optimizer state, estimator "
                    "details and each array's dtype, shape and size. The header and the arrays' "
                    "checksum and values are verified as fastbp.load verifies them: a file that "
                    "is not a loadable model, a damaged one included, exits with status 2.")
    inspect.add_argument("file", metavar="FILE", help="a model file written by fastbp.save")
    inspect.add_argument("--header-only", action="store_true",
                         help="read the header alone, not the arrays: their checksum is not "
                              "verified (the output says so), so damage inside them is not seen")
    return parser


def _version():
    from . import __version__

    return __version__


def _demo(args):
    from .studies import demo

    demo.run(epochs=args.epochs, seed=args.seed, verbose=0 if args.quiet else 1)


def _warmup(args):
    import time

    from tqdm.auto import tqdm

    from . import warmup

    start = time.perf_counter()
    if args.model is None:
        pieces = warmup.tasks(tuple(args.dtype or warmup.DTYPES))
    else:
        pieces = _model_pieces(args.model)
    with tqdm(total=len(pieces), unit="kernel", file=sys.stderr, desc="fastbp warmup",
              disable=args.quiet) as bar:
        for label, compile_piece in pieces:
            bar.set_postfix_str(label, refresh=False)
            compile_piece()
            bar.update(1)
    what = "" if args.model is None else f" for {args.model}"
    print(f"compiled {len(pieces)} pieces{what} in {time.perf_counter() - start:.1f} s; later "
          f"processes load them from Numba's cache")


def _model_pieces(path):
    """The warm-up tasks of a model file; a file that does not load is bad input (exit 2)."""
    from . import warmup
    from .errors import ModelFileError

    try:
        return warmup.model_tasks(path)
    except (ModelFileError, OSError) as error:
        raise _bad_file(path, error) from None


def _gradient_cost(args):
    if args.plot is not None:  # fail before the study, not after minutes of it
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise _Failure("--plot needs matplotlib, which is not installed: "
                           "pip install 'fastbp[plot]'") from None
    import json

    from tqdm.auto import tqdm

    from .studies import gradient_cost, gradient_cost_report, info

    profile = "quick" if args.quick else "full"
    with tqdm(total=len(gradient_cost.cases(profile)), unit="size", file=sys.stderr,
              desc=f"gradient cost ({profile})") as bar:
        def progress(measurement):
            bar.set_postfix_str(measurement.case.label, refresh=False)
            bar.update(1)

        study = gradient_cost.run_study(profile, seed=args.seed, progress=progress)
    print(gradient_cost_report.format_report(study))
    if args.plot is not None:
        gradient_cost_report.plot(study, args.plot)
        print(f"plot written to {args.plot}")
    if args.json is not None:
        machine = dict(info.collect())
        report = gradient_cost_report.to_json(study, machine)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"JSON written to {args.json}")


def _info(args):
    from .studies import info

    print(info.format_info(info.collect()))


class _BadInput(Exception):
    """Input the command cannot use (an unreadable or invalid file): one line, exit status 2."""


def _bad_file(path, error):
    """A ModelFileError (which names the file) or an OSError reading ``path`` as bad input."""
    from .errors import ModelFileError

    if isinstance(error, ModelFileError):
        return _BadInput(str(error))
    return _BadInput(f"{path}: {error.strerror or error}")


def _inspect(args):
    from .errors import ModelFileError
    from .io.inspect import describe_file, format_description

    try:
        facts = describe_file(args.file, verify=not args.header_only)
    except (ModelFileError, OSError) as error:
        raise _bad_file(args.file, error) from None
    print(format_description(facts))


STUDIES = {"gradient-cost": _gradient_cost}
COMMANDS = {"demo": _demo, "warmup": _warmup, "bench": lambda args: STUDIES[args.study](args),
            "info": _info, "inspect": _inspect}


def main(argv=None):
    """Run the ``fastbp`` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("fastbp: interrupted", file=sys.stderr)
        return 130
    except _BadInput as error:
        print(f"fastbp: error: {error}", file=sys.stderr)
        return 2
    except (_Failure, AssertionError, OSError) as error:  # findings and I/O, not bugs
        print(f"fastbp: error: {error}", file=sys.stderr)
        return 1
    return 0
