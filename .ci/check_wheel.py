"""Fail unless a built wheel holds every module of the source tree.

``fastbp/`` is installed as ``fastbp`` and ``kernels/`` as ``fastbp.kernels``; a module of either
that is missing from the wheel would import in an editable install and fail for every user.

Usage: python .ci/check_wheel.py dist/fastbp-*.whl
"""

import pathlib
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
INSTALLED_AS = {"fastbp": "fastbp", "kernels": "fastbp/kernels"}


def source_modules():
    """Paths the wheel must hold, as they are named inside it."""
    modules = set()
    for folder, target in INSTALLED_AS.items():
        for path in (ROOT / folder).rglob("*.py"):
            modules.add(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    return modules


def main(wheel):
    with zipfile.ZipFile(wheel) as archive:
        held = set(archive.namelist())
    missing = sorted(source_modules() - held)
    if missing:
        print(f"{wheel} lacks {len(missing)} module(s) of the source tree:")
        print("\n".join(f"  {name}" for name in missing))
        return 1
    print(f"{wheel}: all {len(source_modules())} modules of the source tree are in the wheel")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
