"""What a step writes: one JSON document, saved after every item, so a stopped step keeps its
part."""

import argparse
import json
import math
import os
import pathlib

from .profiles import PROFILES


def plain(value):
    """``value`` with every non-finite float replaced by its name, so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def write_json(path, data):
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(plain(data), indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)


class StepRecord:
    """The result document of one step, written to ``path`` on every :meth:`save`.

    Parameters
    ----------
    path : path-like
    profile : Profile
    """

    def __init__(self, path, profile):
        self.path = path
        self.data = {"profile": profile.name, "ok": True, "notes": []}

    def note(self, text):
        """Record a remark (a skipped part and why, a fallback taken) and print it."""
        self.data["notes"].append(text)
        print(f"note: {text}", flush=True)

    def fail(self, text):
        """Mark the step failed, with the reason, without stopping it."""
        self.data["ok"] = False
        self.note(f"FAILED: {text}")

    def save(self):
        """Write the document as it stands."""
        write_json(self.path, self.data)


def step_arguments(description, argv=None):
    """The command line every step takes: ``--profile`` and ``--result``.

    Returns
    -------
    profile : Profile
    record : StepRecord
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="device")
    parser.add_argument("--result", required=True, help="JSON file to write the step's result to")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    record = StepRecord(args.result, profile)
    record.save()
    return profile, record


def finish(record):
    """Save the record and exit with 0 if the step succeeded, 1 otherwise."""
    record.save()
    raise SystemExit(0 if record.data["ok"] else 1)
