"""``benchmarks/model_speed.py --smoke`` times both models and the entanglement layer at tiny sizes
and writes every figure the README's "Model speed" table takes to its JSON file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

SCRIPT = REPO_ROOT / "benchmarks" / "model_speed.py"
ROW_KEYS = {"model", "mode", "length", "step_ms", "steps_per_s", "step_ms_all", "steps", "peak_mib", "gflop_per_step",
            "achieved_gflops", "fraction_of_peak", "compile_s"}
LAYER_KEYS = {"lengths", "top_k", "dense_ms", "sparse_ms", "dense_exponent", "sparse_exponent", "crossover",
              "crossover_interpolated"}


@pytest.mark.parametrize("options", [[], ["--precision", "bf16", "--attention-dropout", "0.1"]], ids=["fp32", "bf16"])
def test_smoke_run_writes_every_figure(tmp_path: Path, options: list[str]) -> None:
    out = tmp_path / "speed.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--smoke", *options, "--json", str(out)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=170, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"
    figures = json.loads(out.read_text())
    assert figures["machine"]["threads"] == 1 and figures["machine"]["torch"]
    assert figures["matmul_peak_gflops"] > 0 and figures["smoke"] is True
    assert figures["machine"]["device"] == "CPU"
    assert (figures["precision"], figures["matmul_dtype"], figures["attention_dropout"]) == (
        ("bf16", "torch.bfloat16", 0.1) if options else ("fp32", "torch.float32", None))
    rows = figures["models"]
    assert {(row["model"], row["mode"], row["length"]) for row in rows} == {
        (model, "eager", length) for model in ("quantum", "classical") for length in (8, 16)}
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["step_ms"] > 0 and row["peak_mib"] > 0 and row["gflop_per_step"] > 0
        assert 0 < row["fraction_of_peak"] < 1 and row["compile_s"] is None
    layer = figures["layer"]
    assert set(layer) == LAYER_KEYS and layer["lengths"] == [8, 16, 32]
    assert len(layer["dense_ms"]) == len(layer["sparse_ms"]) == 3
    assert "| T | model | mode | ms/step |" in result.stdout and "crossover" in result.stdout
