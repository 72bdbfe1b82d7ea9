"""Which floating-point precision training runs in on a given device.

On a CPU, bfloat16 matrix products are only faster where the hardware has
them (x86 CPUs with the AVX-512 BF16 or AMX instructions); elsewhere oneDNN
emulates them, which is slower than float32, so ``precision="auto"`` falls
back to float32 there. On a CUDA GPU "auto" means float32: at the sizes this
estimator is built for, a GPU step is bound by the host launching kernels, and
autocast's extra casts made epochs slower (H100, trunk (512, 512), batch 8192:
0.33 s vs 0.28 s); ask for "bfloat16" explicitly for large trunks.
"""

import functools
import platform

import torch

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""x86 CPU flags (as in /proc/cpuinfo) that mean native bfloat16 arithmetic."""


@functools.cache
def cpu_has_native_bfloat16():
    """True when this CPU multiplies bfloat16 matrices natively.

    Read from the CPU flags in ``/proc/cpuinfo`` (Linux on x86); False where
    they cannot be read, so other platforms train in float32. Also False when
    torch runs below its AVX-512 kernels (``ATEN_CPU_CAPABILITY=avx2`` forces
    the code paths of an AVX2-only CPU, and this check follows it).
    """
    if platform.system() != "Linux":
        return False
    if not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return False
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return any(flag in flags for flag in NATIVE_BF16_CPU_FLAGS)
    except OSError:
        pass
    return False


def resolve_precision(precision, device):
    """``"float32"`` or ``"bfloat16"`` for the ``precision`` parameter.

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16"}
        "auto" picks bfloat16 mixed precision on CPUs that run it natively,
        float32 elsewhere (GPUs included); the others are taken as given.
    device : str
        A concrete torch device ("cpu", "cuda", "cuda:1", ...).

    Examples
    --------
    >>> resolve_precision("float32", "cpu")
    'float32'
    >>> resolve_precision("auto", "cpu") in ("float32", "bfloat16")
    True
    """
    on_cuda = torch.device(device).type == "cuda"
    if precision == "bfloat16" and on_cuda and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"precision='bfloat16' was requested on {device!r}, whose GPU has no "
            f"bfloat16 support; use precision='float32' or 'auto'."
        )
    if precision != "auto":
        return precision
    if torch.device(device).type == "cpu" and cpu_has_native_bfloat16():
        return "bfloat16"
    return "float32"
