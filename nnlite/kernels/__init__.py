"""Compute backends.

Owns: ``get_backend("cpu" | "cuda" | "auto")`` — the one place that knows
which devices exist and that explains a missing one — the never-raising GPU
probe ``probe_gpu``, and ``memory_for``, which tells a model where its
arrays live (host arrays on the CPU, device arrays on CUDA).

Imports: nothing heavy at import time. The CPU kernels (``cpu.py``,
numba.njit) are imported when a backend is asked for; ``numba.cuda`` and
the CUDA twins (``cuda.py``) only when the CUDA device is asked for (or
``auto`` probes for it), so ``import nnlite`` never touches CUDA.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

from nnlite.errors import ConfigError, DeviceError

if TYPE_CHECKING:
    import numpy as np

# NumPy is imported where it is used, not here: ``nnlite.kernels.codes`` (the codes the
# concept tables name, read by the CLI's ``--help``) must not cost NumPy's import.

DEVICES = ("cpu", "cuda", "auto")

# Hints name numba-cuda or the clone, never the registry name nnlite (an unrelated package).
INSTALL_HINT = (
    "install numba-cuda with pip install 'numba-cuda[cu13]' "
    "('numba-cuda[cu12]' for NVIDIA drivers older than 580), "
    "or in a clone of nnlite pip install '.[cuda]'"
)
SIMULATOR_HINT = (
    "or set NUMBA_ENABLE_CUDASIM=1 to run the CUDA kernels in Numba's simulator "
    "(slow; for learning and testing)"
)


def numpy_compat() -> None:
    """Restore ``np.row_stack`` (an alias of ``np.vstack``) where NumPy 2.5 removed it.

    numba-cuda 0.30 registers an overload for ``np.row_stack`` whenever NumPy is
    2.x, so on NumPy ≥ 2.5 the first CUDA compilation fails with an
    AttributeError. Called before anything CUDA compiles.
    """
    import numpy as np

    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


@functools.lru_cache(maxsize=1)
def probe_gpu() -> tuple[str, str]:
    """Is there a usable CUDA GPU? Returns (status, detail); never raises.

    status is ``"available"`` (a kernel compiled, launched and returned the
    right value), ``"simulator"`` (``NUMBA_ENABLE_CUDASIM=1``: the CUDA
    kernels run in Numba's simulator, on the CPU), ``"unavailable"`` (no
    numba-cuda, no driver or no device) or ``"broken"`` (a GPU is there but a
    test kernel failed: old driver, missing NVVM/NVRTC, …). The result is
    cached: the probe compiles a kernel the first time.
    """
    with warnings.catch_warnings():  # a probe stays quiet (numba-cuda warns on some NumPys)
        warnings.simplefilter("ignore")
        return _probe()


def _probe() -> tuple[str, str]:
    numpy_compat()
    try:
        from nnlite.config import cuda_simulator_requested

        if cuda_simulator_requested():
            import numba

            if numba.config.ENABLE_CUDASIM:
                return "simulator", "Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
            return (
                "unavailable",
                "NUMBA_ENABLE_CUDASIM was set after numba was imported, so it has no effect",
            )
        if importlib.util.find_spec("numba_cuda") is None:
            return "unavailable", "numba-cuda is not installed"
        import numba
        from numba import cuda
    except Exception as exc:  # e.g. cuda-bindings missing
        return "unavailable", f"numba.cuda cannot be imported ({type(exc).__name__}: {exc})"
    if numba.config.ENABLE_CUDASIM:  # set by a configuration file rather than the environment
        return "simulator", "Numba's CUDA simulator"
    try:
        if not cuda.is_available():
            return "unavailable", "no CUDA GPU or driver found"
        device = cuda.get_current_device()
        name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
        cc = ".".join(str(x) for x in device.compute_capability)

        def probe(a):
            a[0] = 42

        kernel = cuda.jit(probe)
        d = cuda.device_array(1, "int32")
        kernel[1, 1](d)
        if int(d.copy_to_host()[0]) != 42:
            return "broken", f"{name}: a test kernel returned a wrong value"
        return "available", f"{name} (compute capability {cc})"
    except Exception as exc:  # old driver, missing NVVM/NVRTC, out of memory, …
        first = (str(exc).strip().splitlines() or [""])[0]
        return "broken", f"the GPU is not usable ({type(exc).__name__}: {first})"


def _device_error(status: str, detail: str) -> DeviceError:
    if status == "broken":
        return DeviceError(f"CUDA device requested but {detail}; {INSTALL_HINT}, {SIMULATOR_HINT}")
    return DeviceError(
        f"CUDA device requested but no usable GPU was found ({detail}); "
        f"{INSTALL_HINT}, {SIMULATOR_HINT}"
    )


def resolve_device(device: Any = "cpu") -> str:
    """``"cpu"`` or ``"cuda"`` for a device name (``auto``: CUDA when a usable GPU is present).

    Raises ``DeviceError`` when ``cuda`` is asked for and none is usable, and
    ``ConfigError`` for an unknown name.
    """
    name = str(getattr(device, "value", device)).strip().lower()
    if name == "cpu":
        return "cpu"
    if name == "auto":
        return "cuda" if probe_gpu()[0] == "available" else "cpu"
    if name in ("cuda", "gpu"):
        status, detail = probe_gpu()
        if status in ("available", "simulator"):
            return "cuda"
        raise _device_error(status, detail)
    raise ConfigError(f"unknown device {device!r}; valid devices: {', '.join(DEVICES)}")


def get_backend(device: Any = "cpu") -> ModuleType:
    """Return the kernel module for ``device``: ``"cpu"``, ``"cuda"`` or ``"auto"``.

    Both modules offer the same kernels with the same contracts; the CUDA
    launchers take device arrays (see ``memory_for``).
    """
    if resolve_device(device) == "cpu":
        from nnlite.kernels import cpu

        return cpu
    from nnlite.kernels import cuda

    return cuda


class _HostMemory:
    """The CPU backend's memory: arrays stay where they are (no copies at all)."""

    @property
    def dtypes(self) -> tuple:
        import numpy as np

        return (np.dtype(np.float32), np.dtype(np.float64))
    device = "cpu"

    @staticmethod
    def is_device(a: Any) -> bool:
        return False

    def put(self, a: np.ndarray) -> np.ndarray:
        return a

    def get(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is not None and out is not a:
            out[...] = a
            return out
        return a

    def zeros(self, shape: Any, dtype: Any) -> np.ndarray:
        import numpy as np

        return np.zeros(shape, dtype)

    def copy_into(self, dst: np.ndarray, src: np.ndarray) -> None:
        """dst[...] = src (a host array into an array of this memory, same shape)."""
        dst[...] = src

    def stats(self, initial: np.ndarray | None = None) -> np.ndarray:
        """Σ loss × rows, Σ correct, rows, first batch's loss: what ``train_batches`` fills.

        ``initial`` (4,): start from these sums (an epoch resumed half-way).
        """
        import numpy as np

        s = np.zeros(4, np.float64)
        if initial is not None:
            s[:] = initial
        return s

    def read_stats(self, stats: np.ndarray) -> np.ndarray:
        return stats

    def fits(self, nbytes: int) -> bool:
        return True

    def synchronize(self) -> None:
        pass


HOST_MEMORY = _HostMemory()


def memory_for(kernels: ModuleType) -> Any:
    """Where a backend's arrays live: ``put``/``get`` copies, ``stats``, ``fits``.

    The CPU backend keeps host arrays (``put`` returns its argument), so the
    CPU path is the same compiled calls on the same arrays as before.
    """
    return getattr(kernels, "memory", HOST_MEMORY)


def describe_device(kernels: ModuleType) -> str:
    """A short description of where ``kernels`` run, for summaries and reports."""
    if memory_for(kernels).device == "cpu":
        return "cpu"
    status, detail = probe_gpu()
    if status == "simulator":
        return "cuda (Numba simulator, on the CPU)"
    return f"cuda: {detail}"
