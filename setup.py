"""Package discovery: every package under ``fastbp/``, and ``kernels/`` installed as
``fastbp.kernels`` with its own subpackages, so no module can be left out of the wheel. Everything
else about the build is in pyproject.toml."""

from setuptools import find_packages, setup

packages = find_packages(include=["fastbp", "fastbp.*"])
packages += ["fastbp.kernels"] + [f"fastbp.kernels.{name}" for name in find_packages("kernels")]

setup(packages=packages, package_dir={"fastbp.kernels": "kernels"})
