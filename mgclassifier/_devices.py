"""Where and how torch runs: the device, the processes, the training
precision.

The device, the processes and the precision are resolved (and refused when
unusable) with the other parameters, before any work (``_config``); torch's
CPU threads, set for the duration of one call, are ``_cpu_threads``'.
"""

import functools
import os
import platform

import torch
import torch.distributed as dist

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""x86 CPU flags (as in /proc/cpuinfo) that mean native bfloat16 arithmetic."""


def resolve_device(device, distributed=False):
    """A concrete torch device for ``device``; fail clearly on unusable ones.

    "auto" is CUDA when available, else the CPU. In a data-parallel fit
    ``"cuda"`` is this process's GPU (``LOCAL_RANK``, as torchrun sets).

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device: {exc}"
        ) from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            f"machine; use device='cpu' or device='auto'."
        )
    if distributed and device == "cuda":
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return device


def process_count(distributed):
    """Processes that train one model together: 1, or the size of the
    data-parallel group a ``distributed=True`` fit joins (checked, not yet
    started: ``_distributed.start`` does that)."""
    if not distributed:
        return 1
    if not dist.is_available():
        raise ValueError("distributed=True needs a torch built with torch.distributed.")
    if dist.is_initialized():
        return dist.get_world_size()
    if not all(name in os.environ for name in ("RANK", "WORLD_SIZE")):
        raise ValueError(
            "distributed=True trains one model on several processes: launch "
            "the script with torchrun (torchrun --nproc_per_node 2 script.py), "
            "or call torch.distributed.init_process_group() before fit."
        )
    return int(os.environ["WORLD_SIZE"])


def cuda_devices(device):
    """Devices whose RNG ``fork_rng`` must save and restore (none on the CPU)."""
    parsed = torch.device(device)
    if parsed.type != "cuda":
        return []
    return [parsed.index if parsed.index is not None else torch.cuda.current_device()]


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

    "auto" is bfloat16 mixed precision on a CPU that runs it natively (x86
    with AVX-512 BF16 or AMX; elsewhere it is emulated, slower than
    float32) and float32 elsewhere, GPUs included (see
    ``benchmarks/README.md`` for the measurements behind both).

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16"}
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
