"""Model speed: quantum against classical training steps, eager and compiled, side by side,
and how close a step comes to the machine's matmul peak.

For each sequence length ``T``: ``QuantumClassifier`` with its defaults (D = 64, 2 blocks, K = 4,
``entanglement="auto"``) and ``ClassicalClassifier`` with its defaults (3 blocks: one in place of the
entanglement layer, the same number of mixing layers), a training step of B = 32 random sentences
(forward, cross-entropy, backward, AdamW step), eager and compiled as ``QuantumTrainer(compile=
{"dynamic": False})`` compiles (``qembed.training.compilation.compile_module``: inductor with
``fallback_random``, dropout's random numbers drawn by eager's functions in the graph).
Variants rotate which goes first over the repetitions; each figure is a median. Per variant:

- time per step and steps/s;
- peak memory of one step: the most the step's tensors held at once above what was held before it,
  summed from the profiler's allocation events (``profile_memory=True``), so it counts the tensors
  themselves, not allocator slack, and works for compiled code too;
- FLOPs per step (forward + backward, from ``torch.utils.flop_counter.FlopCounterMode`` on the eager
  model: matrix products and attention, not elementwise work) and the achieved fraction of the
  machine's float32 matmul peak, measured in the same run (a large square matmul on the same
  threads, once per repetition, median);
- the compile time (the first compiled step's wall time, forward and backward graphs).

Then the entanglement layer alone (forward + backward, B = 32, D = 64, K = 4) dense against sparse
(top-16) over more lengths: the time exponent of each (least-squares slope of log time over log T,
lengths >= 128) and the crossover length from which sparse is faster.

``--device cuda --precision bf16`` runs it all on a GPU under bfloat16 autocast (CUDA times wait for the
device; peak memory is the allocator's; the matmul peak is measured in bfloat16 there), and
``--attention-dropout`` / ``--activation-dropout`` set the blocks' other dropout rates.

    python benchmarks/model_speed.py --lengths 32,128,512,1024 --repeats 5 --json model_speed.json
    python benchmarks/model_speed.py --device cuda --precision bf16 --json model_speed_gpu.json
    python benchmarks/model_speed.py --smoke --json /tmp/smoke.json   # seconds: the shape of the output
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

import qembed.nn.entanglement as entanglement_module
from qembed.models import ClassicalClassifier, QuantumClassifier
from qembed.nn import EntanglementLayer
from qembed.training.compilation import compile_module

VOCAB, LABELS = 1000, 4
MODELS = ("quantum", "classical")

#: The CPU's fused attention, which FlopCounterMode does not count (the blocks take it when dropout is 0;
#: with dropout they take the math path, matrix products it counts): the same FLOPs as the other kernels.
_aten = torch.ops.aten
CPU_ATTENTION_FLOPS = {
    _aten._scaled_dot_product_flash_attention_for_cpu:
        lambda query, key, value, *args, out_shape=None, **kwargs: sdpa_flop_count(query, key, value),
    _aten._scaled_dot_product_flash_attention_for_cpu_backward:
        lambda grad, query, key, value, *args, out_shape=None, **kwargs: sdpa_backward_flop_count(grad, query, key,
                                                                                                  value),
}


def build(kind: str, max_length: int, args: argparse.Namespace) -> nn.Module:
    torch.manual_seed(0)
    options: dict[str, Any] = {"max_length": max_length, "dropout": args.dropout}
    options.update({name: rate for name in ("attention_dropout", "activation_dropout")
                    if (rate := getattr(args, name)) is not None})
    model = (QuantumClassifier if kind == "quantum" else ClassicalClassifier)(VOCAB, LABELS, **options)
    return model.to(args.device)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a CUDA step is timed when it has run, not when queued)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Variant:
    """One model, eager or compiled, with its optimizer and a fixed batch."""

    def __init__(self, kind: str, compiled: bool, length: int, args: argparse.Namespace) -> None:
        self.kind, self.compiled, self.device = kind, compiled, args.device
        self.autocast = torch.autocast(args.device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")
        self.model = build(kind, max(length, 8), args).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(length)
        self.ids = torch.randint(0, VOCAB, (args.batch, length), generator=generator).to(args.device)
        self.mask = torch.ones(args.batch, length, dtype=torch.long, device=args.device)
        self.labels = torch.randint(0, LABELS, (args.batch,), generator=generator).to(args.device)
        self.forward = compile_module(self.model, {"dynamic": False}) if compiled else self.model
        self.compile_s: float | None = None
        self.steps = 1

    @property
    def name(self) -> str:
        return f"{self.kind} {'compiled' if self.compiled else 'eager'}"

    def loss(self) -> torch.Tensor:
        with self.autocast:
            return self.forward(self.ids, self.mask, labels=self.labels).loss

    def step(self) -> None:
        self.loss().backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def warm_up(self, steps: int, seconds: float) -> None:
        """Two steps (the first compiles when compiled); then how many steps a measurement
        times: about ``seconds`` of steps, at least 1 and at most ``steps``."""
        start = time.perf_counter()
        self.step()  # compiles forward and backward when compiled
        if self.compiled:
            self.compile_s = time.perf_counter() - start
        start = time.perf_counter()
        self.step()
        self.steps = max(1, min(steps, round(seconds / (time.perf_counter() - start))))

    def seconds_per_step(self) -> float:
        synchronize(self.device)
        start = time.perf_counter()
        for _ in range(self.steps):
            self.step()
        synchronize(self.device)
        return (time.perf_counter() - start) / self.steps

    def flops(self) -> int:
        """Forward + backward FLOPs of one step (the optimizer's elementwise update is not counted)."""
        counter = FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION_FLOPS)
        with counter, self.autocast:
            self.model(self.ids, self.mask, labels=self.labels).loss.backward()
        self.optimizer.zero_grad(set_to_none=True)
        return counter.get_total_flops()

    def peak_mib(self) -> float:
        """Most bytes the step's tensors held at once, above what was held before it (on CUDA:
        the allocator's peak of allocated bytes)."""
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            held = torch.cuda.memory_allocated(self.device)
            self.step()
            synchronize(self.device)
            return (torch.cuda.max_memory_allocated(self.device) - held) / 2**20
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            self.step()
        events = [event for event in prof.profiler.kineto_results.events()  # type: ignore[union-attr]
                  if event.name() == "[memory]" and str(event.device_type()).endswith("CPU")]
        held = peak = 0
        for event in sorted(events, key=lambda event: event.start_ns()):
            held += event.nbytes()
            peak = max(peak, held)
        return peak / 2**20


def matmul_gflops(size: int, device: torch.device, dtype: torch.dtype) -> float:
    """GFLOP/s of the best of three ``size x size`` matrix products in ``dtype`` on ``device``
    (on the CPU, on the current threads)."""
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    a @ b  # warm up
    best = math.inf
    for _ in range(3):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def exponent(lengths: list[int], seconds: list[float], minimum: int = 128) -> float | None:
    """Least-squares slope of log seconds over log length, over the lengths >= ``minimum``."""
    points = [(math.log(length), math.log(value)) for length, value in zip(lengths, seconds) if length >= minimum]
    if len(points) < 2:
        return None
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    return (sum((x - mean_x) * (y - mean_y) for x, y in points)
            / sum((x - mean_x) ** 2 for x, _ in points))


def rotated(items: list[Any], repeat: int) -> list[Any]:
    shift = repeat % len(items)
    return items[shift:] + items[:shift]


def model_rows(args: argparse.Namespace, peaks: list[float]) -> list[dict[str, Any]]:
    rows = []
    for length in args.lengths:
        torch._dynamo.reset()  # a fresh compile per length: no recompiles counted against the cache limit
        variants = [Variant(kind, compiled, length, args)
                    for compiled in ((False, True) if args.compile else (False,)) for kind in MODELS]
        flops = {variant.kind: variant.flops() for variant in variants if not variant.compiled}
        for variant in variants:
            variant.warm_up(args.steps, args.seconds)
        memory = {variant.name: variant.peak_mib() for variant in variants}
        times: dict[str, list[float]] = {variant.name: [] for variant in variants}
        for repeat in range(args.repeats):
            for variant in rotated(variants, repeat):
                times[variant.name].append(variant.seconds_per_step())
            peaks.append(matmul_gflops(args.matmul_size, args.device, args.matmul_dtype))
        for variant in variants:
            seconds = statistics.median(times[variant.name])
            rows.append({"model": variant.kind, "mode": "compiled" if variant.compiled else "eager",
                         "length": length, "step_ms": 1e3 * seconds, "steps_per_s": 1 / seconds,
                         "step_ms_all": [1e3 * value for value in times[variant.name]], "steps": variant.steps,
                         "peak_mib": memory[variant.name], "gflop_per_step": flops[variant.kind] / 1e9,
                         "achieved_gflops": flops[variant.kind] / seconds / 1e9,
                         "compile_s": variant.compile_s})
        print(f"T={length}: " + ", ".join(f"{row['model']} {row['mode']} {row['step_ms']:.1f} ms"
                                           for row in rows if row["length"] == length), flush=True)
        del variants
    return rows


def layer_sweep(args: argparse.Namespace) -> dict[str, Any]:
    """Dense against sparse ``EntanglementLayer`` forward + backward, interleaved, medians."""
    modes = ("dense", "sparse")
    medians: dict[str, list[float]] = {mode: [] for mode in modes}
    for length in args.layer_lengths:
        torch.manual_seed(0)
        layers = {mode: EntanglementLayer(64, 4, mode=mode, top_k=args.top_k).to(args.device) for mode in modes}
        layers["sparse"].load_state_dict(layers["dense"].state_dict())
        hidden = torch.randn(args.batch, length, 64, device=args.device, requires_grad=True)
        amplitudes = nn.functional.normalize(torch.randn(args.batch, length, 4, device=args.device), dim=-1)
        autocast = torch.autocast(args.device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")

        def run(mode: str) -> float:
            synchronize(args.device)
            start = time.perf_counter()
            for _ in range(steps):
                with autocast:
                    out = layers[mode](hidden, amplitudes)
                (out.hidden_states.float().square().mean() + out.entanglement.mean()).backward()
            synchronize(args.device)
            return (time.perf_counter() - start) / steps

        steps = 1
        for mode in modes:
            run(mode)  # warm up
        steps = max(1, min(args.steps, round(args.seconds / max(run(mode) for mode in modes))))
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        for repeat in range(args.repeats):
            for mode in rotated(list(modes), repeat):
                times[mode].append(run(mode))
        for mode in modes:
            medians[mode].append(statistics.median(times[mode]))
        print(f"layer T={length}: dense {1e3 * medians['dense'][-1]:.2f} ms, "
              f"sparse {1e3 * medians['sparse'][-1]:.2f} ms", flush=True)
    lengths = list(args.layer_lengths)
    faster = [sparse < dense for dense, sparse in zip(medians["dense"], medians["sparse"])]
    crossover = next((length for index, length in enumerate(lengths) if all(faster[index:])), None)
    interpolated = None
    if crossover is not None and lengths.index(crossover) > 0:
        index = lengths.index(crossover)
        (low, high), ratios = lengths[index - 1:index + 1], [math.log(medians["dense"][i] / medians["sparse"][i])
                                                             for i in (index - 1, index)]
        fraction = -ratios[0] / (ratios[1] - ratios[0])  # where log(dense / sparse) crosses 0, in log T
        interpolated = math.exp(math.log(low) + fraction * (math.log(high) - math.log(low)))
    return {"lengths": lengths, "top_k": args.top_k, "dense_ms": [1e3 * value for value in medians["dense"]],
            "sparse_ms": [1e3 * value for value in medians["sparse"]],
            "dense_exponent": exponent(lengths, medians["dense"]),
            "sparse_exponent": exponent(lengths, medians["sparse"]),
            "crossover": crossover, "crossover_interpolated": interpolated}


def table(result: dict[str, Any]) -> str:
    peak = result["matmul_peak_gflops"]
    lines = ["| T | model | mode | ms/step | steps/s | quantum / classical time | peak MiB | quantum / classical "
             "memory | GFLOP/step | fraction of peak | compile s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows = {(row["length"], row["model"], row["mode"]): row for row in result["models"]}
    for (length, model, mode), row in rows.items():
        classical = rows[(length, "classical", mode)]
        time_ratio = f"{row['step_ms'] / classical['step_ms']:.2f}x" if model == "quantum" else ""
        memory_ratio = f"{row['peak_mib'] / classical['peak_mib']:.2f}x" if model == "quantum" else ""
        compile_s = f"{row['compile_s']:.0f}" if row["compile_s"] is not None else ""
        lines.append(f"| {length} | {model} | {mode} | {row['step_ms']:.1f} | {row['steps_per_s']:.2f} | {time_ratio} "
                     f"| {row['peak_mib']:.0f} | {memory_ratio} | {row['gflop_per_step']:.2f} "
                     f"| {row['achieved_gflops'] / peak:.3f} | {compile_s} |")
    layer = result["layer"]
    lines += ["", f"matmul peak ({result['matmul_dtype']}, {result['matmul_size']}^2, {result['machine']['device']}, "
              f"{result['machine']['threads']} CPU thread(s)): "
              f"{peak:.1f} GFLOP/s (median of {len(result['matmul_gflops_all'])})", "",
              "| T | dense layer ms | sparse layer ms | dense / sparse |", "| --- | --- | --- | --- |"]
    for length, dense, sparse in zip(layer["lengths"], layer["dense_ms"], layer["sparse_ms"]):
        lines.append(f"| {length} | {dense:.2f} | {sparse:.2f} | {dense / sparse:.2f} |")

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    lines += ["", f"dense layer time exponent (T >= 128): {fmt(layer['dense_exponent'])}; sparse (top-{layer['top_k']}):"
              f" {fmt(layer['sparse_exponent'])}; crossover: sparse faster from T = {layer['crossover']} "
              f"(interpolated {fmt(layer['crossover_interpolated'])})"]
    for model in MODELS:
        eager = [row for row in result["models"] if row["model"] == model and row["mode"] == "eager"]
        lines.append(f"{model} eager step time exponent (T >= 128): "
                     f"{fmt(exponent([row['length'] for row in eager], [row['step_ms'] for row in eager]))}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])

    def lengths(text: str) -> list[int]:
        return [int(part) for part in text.split(",") if part]

    parser.add_argument("--lengths", type=lengths, default=[32, 128, 512, 1024])
    parser.add_argument("--layer-lengths", type=lengths, default=[32, 64, 96, 128, 192, 256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="at most this many steps timed per measurement")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="about this long per measurement of a model (at least one step)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dropout", type=float, default=0.1, help="the models' dropout (their default 0.1)")
    parser.add_argument("--attention-dropout", type=float, metavar="RATE",
                        help="the blocks' attention dropout (default: the models' default)")
    parser.add_argument("--activation-dropout", type=float, metavar="RATE",
                        help="the blocks' activation dropout (default: the models' default)")
    parser.add_argument("--device", type=torch.device, default=torch.device("cpu"), help="cpu (default) or cuda[:N]")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="bf16: the steps under bfloat16 autocast, the matmul peak in bfloat16")
    parser.add_argument("--top-k", type=int, default=16, help="partners per token of the sparse layer")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                        help="also time torch.compile(model) (default on; off with --smoke)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--dense-block-pairs", type=int, default=None,
                        help="override qembed.nn.entanglement.DENSE_BLOCK_PAIRS (0: dense couples all rows at once, "
                             "as before blocks)")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition, no compile: seconds")
    args = parser.parse_args()
    if args.smoke:
        args.lengths, args.layer_lengths, args.repeats, args.steps, args.batch, args.matmul_size = (
            [8, 16], [8, 16, 32], 1, 1, 4, 256)
        args.compile = "--compile" in sys.argv
    if args.device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    args.matmul_dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    torch.set_num_threads(args.threads)
    if args.dense_block_pairs is not None:
        entanglement_module.DENSE_BLOCK_PAIRS = args.dense_block_pairs or sys.maxsize
    peaks: list[float] = []
    started = time.perf_counter()
    models = model_rows(args, peaks)
    layer = layer_sweep(args)
    if not peaks:  # no model lengths: the peak still comes from this run
        peaks = [matmul_gflops(args.matmul_size, args.device, args.matmul_dtype) for _ in range(max(1, args.repeats))]
    result = {
        "machine": {"torch": torch.__version__, "python": platform.python_version(), "threads": args.threads,
                    "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "device": (torch.cuda.get_device_name(args.device) if args.device.type == "cuda" else "CPU")},
        "batch": args.batch, "repeats": args.repeats, "steps": args.steps, "dropout": args.dropout,
        "attention_dropout": args.attention_dropout, "activation_dropout": args.activation_dropout,
        "precision": args.precision, "matmul_dtype": str(args.matmul_dtype),
        "smoke": args.smoke, "matmul_size": args.matmul_size,
        "dense_block_pairs": entanglement_module.DENSE_BLOCK_PAIRS,
        "matmul_peak_gflops": statistics.median(peaks), "matmul_gflops_all": peaks,
        "models": [{**row, "fraction_of_peak": row["achieved_gflops"] / statistics.median(peaks)} for row in models],
        "layer": layer, "seconds": time.perf_counter() - started,
    }
    print(table(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=1)


if __name__ == "__main__":
    main()
