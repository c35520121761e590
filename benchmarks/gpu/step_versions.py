"""Step 5: what ran: device, driver, CUDA toolkit, Python packages, and ``nvidia-smi``'s view."""

import importlib.metadata
import platform
import shutil
import subprocess

from .results import finish, step_arguments

#: Distributions whose versions are recorded; CuPy's name depends on its CUDA build.
PACKAGES = ("fastbp", "numpy", "numba", "numba-cuda", "cuda-bindings", "cuda-core", "torch",
            "cupy-cuda13x", "cupy-cuda12x", "scikit-learn")


def package_versions():
    """Installed version of each of :data:`PACKAGES`, None where absent."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def nvidia_smi():
    """``nvidia-smi``'s name, driver, memory and clocks of each GPU, or why there are none."""
    if shutil.which("nvidia-smi") is None:
        return "nvidia-smi not on PATH"
    query = "name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw"
    result = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv"],
                            capture_output=True, text=True, timeout=15)
    return (result.stdout or result.stderr).strip()


def torch_cuda():
    """PyTorch's CUDA build and device name, or why it has none."""
    try:
        import torch
    except ImportError as exc:
        return f"not importable ({exc})"
    facts = {"version": torch.__version__, "cuda": torch.version.cuda, "device": None}
    try:
        if torch.cuda.is_available():
            facts["device"] = torch.cuda.get_device_name(0)
    except RuntimeError as exc:
        facts["device"] = f"error: {exc}"
    return facts


def device_facts():
    """fastbp's view of the device, or the error that stops fastbp from seeing it."""
    try:
        from fastbp.kernels.cuda import bench as cuda_bench

        return cuda_bench.device_facts()
    except Exception as exc:  # the other facts are what explains such an error
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv=None):
    """Run the step; see the module docstring."""
    _, record = step_arguments(__doc__, argv)
    record.data.update(packages=package_versions(), python=platform.python_version(),
                       platform=platform.platform(), nvidia_smi=nvidia_smi(),
                       torch=torch_cuda(), device=device_facts())
    if "error" in record.data["device"]:
        record.fail(f"fastbp's CUDA backend cannot see the device: {record.data['device']}")
    for key in ("device", "packages", "torch", "nvidia_smi"):
        print(f"{key}: {record.data[key]}", flush=True)
    finish(record)


if __name__ == "__main__":
    main()
