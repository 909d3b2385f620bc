"""PTX lint: compile every CUDA kernel to PTX (no GPU needed) and refuse float64.

Owns: the static check that the CUDA twins (``nnlite/kernels/cuda.py``) are
what the simulator cannot prove — valid CUDA code that computes in float32
only. Numba types a bare Python float as float64, and the simulator runs
such a kernel happily (NumPy keeps float32 there), so only the compiled PTX
shows the leak. Also reports local-memory traffic (``ld.local``/``st.local``:
register spills or arrays that did not become registers) and registers are
not checked (that needs a GPU).

Usage: ``python -m nnlite.tools.ptxlint [--cc 9.0 ...] [--json]``. Needs
``numba-cuda`` with NVVM (the ``cuda`` extra); it must run **without**
``NUMBA_ENABLE_CUDASIM`` (compiling is disabled in the simulator).

Exit codes: 0 clean; 1 a kernel has float64 instructions or failed to
compile; 3 cannot check here (no numba-cuda, no NVVM, or simulator on) — the
reason is printed on one line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

F64 = re.compile(r"\.f64\b")
LOCAL = re.compile(r"\b(?:ld|st)\.local\b")
EXIT_CANNOT_CHECK = 3


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def cannot_check() -> str | None:
    """Why PTX cannot be compiled here, or None when it can."""
    from nnlite.config import cuda_simulator_requested

    if cuda_simulator_requested():
        return "NUMBA_ENABLE_CUDASIM is set: the simulator cannot compile PTX"
    import importlib.util

    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install 'numba-cuda[cu13]')"
    try:
        from numba import cuda

        from nnlite.kernels import numpy_compat

        numpy_compat()

        def probe(a):
            a[0] = 1

        cuda.compile_ptx(probe, "void(float32[::1])", cc=(7, 5))
    except Exception as exc:  # no NVVM / NVRTC in this environment
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"cannot compile PTX here ({type(exc).__name__}: {first})"
    return None


def _without_a_device(cc: tuple[int, int]) -> None:
    """Let device functions compile with no GPU present.

    numba-cuda compiles a ``@cuda.jit(device=True)`` function, when a kernel
    calling it is typed, for the *current device's* compute capability, which
    needs a driver. The lint has no device: answer with the capability being
    linted instead.
    """
    from types import SimpleNamespace

    from numba.cuda import dispatcher

    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)


def lint(ccs: list[tuple[int, int]]) -> list[dict]:
    """Compile every kernel of ``nnlite.kernels.cuda`` for each compute capability."""
    from numba import cuda

    from nnlite.kernels import cuda as kernels

    _without_a_device(ccs[0])
    results = []
    for name, pyfunc, sig in kernels.ptx_targets():
        for cc in ccs:
            row = {"kernel": name, "cc": f"{cc[0]}.{cc[1]}", "signature": sig}
            start = time.perf_counter()
            try:
                ptx, _ = cuda.compile_ptx(pyfunc, sig, cc=cc)
            except Exception as exc:
                row.update(ok=False, error=f"{type(exc).__name__}: {exc}".splitlines()[0])
            else:
                body = "\n".join(
                    line for line in ptx.splitlines() if not line.lstrip().startswith("//")
                )
                f64 = [line.strip() for line in body.splitlines() if F64.search(line)]
                row.update(
                    ok=not f64,
                    f64=len(f64),
                    f64_examples=f64[:3],
                    local=len(LOCAL.findall(body)),
                    fma=body.count("fma.rn.f32"),
                )
            row["seconds"] = round(time.perf_counter() - start, 3)
            results.append(row)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnlite.tools.ptxlint", description=__doc__)
    parser.add_argument("--cc", action="append", default=None, help="compute capability, e.g. 9.0")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    reason = cannot_check()
    if reason:
        _say(f"ptxlint: skipped: {reason}")
        return EXIT_CANNOT_CHECK
    ccs = [tuple(int(x) for x in cc.split(".")) for cc in (args.cc or ["8.0", "9.0"])]
    results = lint(ccs)
    bad = [r for r in results if not r["ok"]]
    if args.json:
        _say(json.dumps({"ok": not bad, "kernels": results}, indent=1))
    else:
        for r in results:
            status = "ok " if r["ok"] else "BAD"
            extra = r.get("error") or (
                f"f64={r['f64']} local={r['local']} fma={r['fma']}"
                + (f"  e.g. {r['f64_examples'][0]}" if r.get("f64_examples") else "")
            )
            _say(f"{status} {r['kernel']:<44} cc {r['cc']}  {r['seconds']:5.2f}s  {extra}")
        _say(f"{len(results) - len(bad)}/{len(results)} kernels compiled without float64")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
