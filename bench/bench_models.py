"""Model speeds on this machine: the embedder (fp32 and the int8 fast path: passages/s, cosine),
and the LLM (prompt and generation tokens/s, time to first token for 700- and 1,500-token prompts, RAM).

    python -m bench.bench_models [--out bench/results/models.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, peak_rss_mb, write
from rag.settings import Settings

FILLER = "生成AIの導入が進み、企業の業務の進め方が大きく変わりつつあります。"


def embedder_figures(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "embed.json"
        cmd = [sys.executable, str(ROOT / "bench/bench_embed.py"), "--recipes",
               "fp32-batch8,int8-dynamic-no-ffn-out-batch8", "--n", str(n), "--out", str(out)]  # fmt: skip
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        report = json.loads(out.read_text())
    recipes = report["recipes"]
    return {
        "passages": report["passages"],
        "fp32": recipes["fp32-batch8"],
        "int8_fast_path": recipes["int8-dynamic-no-ffn-out-batch8"],
    }


def llm_figures(settings: Settings) -> dict[str, Any]:
    from llama_cpp import Llama

    rss0 = peak_rss_mb()
    t0 = time.monotonic()
    llm: Any = Llama(model_path=str(settings.gguf_path), n_ctx=4096, n_threads=settings.cpu_threads, n_batch=512,
                verbose=False)  # fmt: skip
    load_s = time.monotonic() - t0
    tokens = llm.tokenize((FILLER * 200).encode())
    figures: dict[str, Any] = {"model": settings.gguf_path.name, "threads": settings.cpu_threads,
                               "load_seconds": round(load_s, 2)}  # fmt: skip
    llm.reset()
    t = time.monotonic()
    llm.eval(tokens[:512])
    figures["prompt_tokens_per_s"] = round(512 / (time.monotonic() - t), 1)
    # generation speed: greedy continuation of the prompt above, which generate() finds in its KV cache;
    # timed from the first new token so no prompt processing is counted
    generated, first = 0, 0.0
    for _ in llm.generate(tokens[:512], temp=0.0):
        generated += 1
        first = first or time.monotonic()
        if generated > 64:
            break
    figures["generation_tokens_per_s"] = round((generated - 1) / (time.monotonic() - first), 1)
    for size in (700, 1500):
        llm.reset()
        text = llm.detokenize(tokens[: size - 30]).decode(errors="ignore")
        messages = [{"role": "user", "content": text + "\n要約してください。"}]
        t = time.monotonic()
        for chunk in llm.create_chat_completion(messages=messages, max_tokens=4, stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                break
        figures[f"ttft_{size}_tokens_s"] = round(time.monotonic() - t, 2)
    figures["ram_mb"] = round(peak_rss_mb() - rss0, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/models.json")
    parser.add_argument("--passages", type=int, default=200)
    args = parser.parse_args()
    figures = {"embedder": embedder_figures(args.passages), "llm": llm_figures(Settings())}
    write(args.out, figures, "make bench-models")


if __name__ == "__main__":
    main()
