"""llama.cpp settings that change the embedded LLM's speed on this CPU, measured on answer-shaped prompts.

For each configuration the GGUF is loaded fresh (in its own process, so load time, RSS and llama.cpp's
process-wide state belong to that configuration alone) and measured on the same prompts: a system
prompt, three numbered ~200-character Japanese source passages and a question (rag.answering.prompts, the
service's own format), about 700 tokens after the GGUF's chat template.

- prompt processing: `llm.reset(); llm.eval(tokens)`, the whole prompt with nothing cached, tokens/s;
- generation: greedy `create_completion(prompt=tokens, max_tokens=64, temperature=0)`, tokens/s from
  the first generated token to the last, and whether the text equals the baseline's for every prompt.

Configurations: the service's settings (baseline: 2 threads, n_batch = n_ubatch = 512, Q4_K_M); one
thread; flash attention; n_batch/n_ubatch 256/256, 512/128, 1024/512; the prompt evaluated in 32-token
slices as the service's cancellable prefill does; CPU weight repacking off; the GGUF re-quantized to
Q4_0 and IQ4_NL (bench/quantize.py, written once next to the GGUF); prompt-lookup speculative
decoding with 10 and 2 draft tokens. The baseline always runs: it is the reference for the outputs.

    python -m bench.bench_llm_settings [--only q4_0,flash-attn] [--prompts 3] [--gguf PATH]
        [--out bench/results/llm-settings.json]
    python -m bench.bench_llm_settings --quick --only baseline   # smoke run: 1 short prompt, 8 tokens

Passages come from $RAG_ARCHIVE/_posts when set, else from the sample posts in tests/data/archive.
A full run takes about 20 minutes on an idle 2-core machine (~90 s a configuration, threads-1 twice
that), plus a few minutes for the two re-quantizations the first time. Keep the machine otherwise idle:
llama.cpp's threads spin-wait for each other, so another busy process slows generation several-fold.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ROOT, archive_passages, write
from bench.quantize import quantize
from rag.answering.prompts import Source, build_messages
from rag.settings import Settings

SEED = 42
# Today's service settings (rag/llm/llamacpp.py), with the context cut to 2048: enough for these prompts
# and it keeps the KV cache, which every configuration allocates, small.
BASELINE_KWARGS: dict[str, Any] = {
    "n_ctx": 2048,
    "seed": SEED,
    "n_threads": 2,
    "n_threads_batch": 2,
    "n_batch": 512,
    "n_ubatch": 512,
}
PASSAGE_CHARS = 200
GEN_TOKENS = 64
WARMUP_TOKENS = 16
# llama.cpp log lines (captured, not printed) that show whether a setting took effect
LOG_KEEP = re.compile(r"buffer size|REPACK|flash_attn|n_batch|n_ubatch|n_threads|file type|causal_attn", re.I)
REPACKED = re.compile(r"repack tensor \S+ with (\S+)")


@dataclass(frozen=True)
class Config:
    label: str
    kwargs: dict[str, Any] = field(default_factory=dict)  # Llama() kwargs over BASELINE_KWARGS
    quant: str | None = None  # a re-quantized GGUF (bench/quantize.py type) instead of --gguf
    repack: bool = True  # llama_model_params.use_extra_bufts
    lookup: int = 0  # LlamaPromptLookupDecoding(num_pred_tokens=…); 0 = no draft model
    prefill_slice: int = 0  # evaluate the prompt in slices of this many tokens; 0 = one eval call

    def llama_kwargs(self) -> dict[str, Any]:
        return BASELINE_KWARGS | self.kwargs


CONFIGS = [
    Config("baseline"),
    Config("threads-1", {"n_threads": 1, "n_threads_batch": 1}),
    Config("flash-attn", {"flash_attn": True}),
    Config("batch-256-ubatch-256", {"n_batch": 256, "n_ubatch": 256}),
    Config("batch-512-ubatch-128", {"n_ubatch": 128}),
    Config("batch-1024-ubatch-512", {"n_batch": 1024}),
    # the service's prefill evaluates the prompt 32 tokens at a time so it can be cancelled in between
    # (RAG_LLM_PREFILL_SLICE): a 32-token batch is what llama.cpp actually sees there
    Config("prefill-slice-32", prefill_slice=32),
    Config("repack-off", repack=False),
    Config("q4_0", quant="q4_0"),
    Config("iq4_nl", quant="iq4_nl"),
    Config("lookup-10", lookup=10),
    Config("lookup-2", lookup=2),
]
BY_LABEL = {c.label: c for c in CONFIGS}


# --- prompts --------------------------------------------------------------------------------------------


def build_prompts(archive: Path, n: int, size: int) -> list[dict[str, Any]]:
    """Chat messages for `n` prompts: three numbered sources, a question about the first."""
    passages = archive_passages(archive, 3 * n, size, SEED)
    prompts = []
    for i in range(n):
        chosen = passages[3 * i : 3 * i + 3]
        sources = [Source(k + 1, p.post, "", p.title, p.date, "", p.text) for k, p in enumerate(chosen)]
        question = f"「{chosen[0].title}」について、記事は何と述べていますか？"
        messages = build_messages(question, sources, "ja")
        prompts.append(
            {
                "question": question,
                "posts": [p.post for p in chosen],
                "messages": [{"role": m.role, "content": m.content} for m in messages],
            }
        )
    return prompts


# --- one configuration (runs in a child process) --------------------------------------------------------


@contextlib.contextmanager
def model_params(**overrides: Any) -> Iterator[None]:
    """Llama() takes its llama_model_params from llama_cpp.llama_model_default_params() and has no kwarg
    for some fields, use_extra_bufts (CPU weight repacking) among them. llama.py looks that function up
    on the llama_cpp.llama_cpp module at call time, so it is swapped, for the load only, for one that
    edits the struct it returns; nothing else in llama-cpp-python calls it."""
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def patched() -> Any:
        params = original()
        for name, value in overrides.items():
            setattr(params, name, value)
        return params

    lib.llama_model_default_params = patched
    try:
        yield
    finally:
        lib.llama_model_default_params = original


_log_lines: list[str] = []
_log_callback: Any = None  # the ctypes callback must outlive the call that registers it


def capture_llama_log() -> None:
    """Keep llama.cpp's log in memory (verbose=False silences it) to check that settings took effect."""
    global _log_callback
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        _log_lines.append(text.decode("utf-8", errors="replace"))

    _log_callback = callback
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def rss_mb(field_name: str = "VmRSS") -> float:
    """Current (VmRSS) or peak (VmHWM) resident memory of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(config: Config, gguf: Path, prompts: list[dict[str, Any]], gen_tokens: int) -> dict[str, Any]:
    import numpy as np
    import numpy.typing as npt
    from llama_cpp import Llama, StoppingCriteriaList
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    capture_llama_log()
    kwargs = config.llama_kwargs()
    if config.lookup:
        kwargs["draft_model"] = LlamaPromptLookupDecoding(num_pred_tokens=config.lookup)
    overrides = {} if config.repack else {"use_extra_bufts": False}
    t0 = time.monotonic()
    with model_params(**overrides):
        llm = Llama(model_path=str(gguf), verbose=False, **kwargs)
    load_s = time.monotonic() - t0
    rss_load = rss_mb()
    # one line per repacked tensor: counted by packed type instead of kept
    repacked = Counter(m.group(1) for line in _log_lines if (m := REPACKED.search(line)))
    load_log = [line.strip() for line in _log_lines if LOG_KEEP.search(line) and not REPACKED.search(line)]
    say(f"  loaded in {load_s:.1f} s, RSS {rss_load:.0f} MB")

    # the chat template as create_chat_completion (and the service) applies it
    eos = llm.token_eos()
    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=llm.detokenize([eos], special=True).decode(errors="replace"),
        bos_token="",
        stop_token_ids=[eos],
    )
    token_lists = [
        llm.tokenize(formatter(messages=p["messages"]).prompt.encode(), add_bos=False, special=True) for p in prompts
    ]

    # untimed: the first decode pays for page faults on the mmapped weights and the thread pool start
    llm.reset()
    llm.eval(token_lists[0][:WARMUP_TOKENS])

    # one timestamp per generated token: create_completion calls the stopping criteria after each
    # sample, also for draft tokens accepted together, so the first stamp is the first token
    stamps: list[float] = []

    def stamp(_ids: npt.NDArray[np.intc], _logits: npt.NDArray[np.single]) -> bool:
        stamps.append(time.monotonic())
        return False

    criteria = StoppingCriteriaList([stamp])
    runs: list[dict[str, Any]] = []
    for i, tokens in enumerate(token_lists):
        llm.reset()
        t = time.monotonic()
        if config.prefill_slice:
            for start in range(0, len(tokens), config.prefill_slice):
                llm.eval(tokens[start : start + config.prefill_slice])
        else:
            llm.eval(tokens)
        prompt_s = time.monotonic() - t

        stamps.clear()
        # the prompt is in the KV cache already, so generation starts at once
        out: Any = llm.create_completion(
            prompt=tokens, max_tokens=gen_tokens, temperature=0, stopping_criteria=criteria
        )
        # create_completion calls the criteria once more after its loop: that last stamp is no token
        token_stamps = stamps[:-1]
        gen_s = token_stamps[-1] - token_stamps[0] if len(token_stamps) > 1 else 0.0
        run = {
            "prompt_tokens": len(tokens),
            "prompt_s": round(prompt_s, 3),
            "prompt_tps": round(len(tokens) / prompt_s, 2),
            "gen_tokens": len(token_stamps),
            "gen_tps": round((len(token_stamps) - 1) / gen_s, 2) if gen_s > 0 else None,
            "output": out["choices"][0]["text"],
        }
        runs.append(run)
        say(
            f"  prompt {i + 1}/{len(token_lists)}: {run['prompt_tokens']} tokens at {run['prompt_tps']} t/s; "
            f"{run['gen_tokens']} generated at {run['gen_tps']} t/s"
        )

    figures: dict[str, Any] = {
        "model_params": {"use_extra_bufts": bool(llm.model_params.use_extra_bufts)},
        "flash_attn_type": int(llm.context_params.flash_attn_type),
        "load_s": round(load_s, 2),
        "rss_after_load_mb": rss_load,
        "peak_rss_mb": rss_mb("VmHWM"),
        "runs": runs,
        "repacked_tensors": dict(repacked),
        "llama_log": load_log,
    }
    llm.close()
    return figures


def worker(spec_path: Path, result_path: Path) -> None:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    config = BY_LABEL[spec["label"]]
    figures = measure(config, Path(spec["gguf"]), spec["prompts"], spec["gen_tokens"])
    result_path.write_text(json.dumps(figures, ensure_ascii=False), encoding="utf-8")


# --- the driver -----------------------------------------------------------------------------------------


def run_config(config: Config, gguf: Path, prompts: list[dict[str, Any]], gen_tokens: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        spec, result = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        payload = {"label": config.label, "gguf": str(gguf), "prompts": prompts, "gen_tokens": gen_tokens}
        spec.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        cmd = [sys.executable, "-m", "bench.bench_llm_settings", "--worker", str(spec), str(result)]
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
        if proc.returncode != 0 or not result.is_file():
            return {"error": f"the measuring process exited with status {proc.returncode} (see stderr above)"}
        figures: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
        return figures


def summarise(config: Config, gguf: Path, figures: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = config.llama_kwargs()
    if config.lookup:
        kwargs["draft_model"] = f"LlamaPromptLookupDecoding(num_pred_tokens={config.lookup})"
    entry: dict[str, Any] = {"label": config.label, "kwargs": kwargs, "gguf": gguf.name}
    if config.prefill_slice:
        entry["prefill_slice"] = config.prefill_slice
    if "error" in figures:
        return entry | figures
    runs = figures.pop("runs")
    gen = [r["gen_tps"] for r in runs if r["gen_tps"] is not None]
    entry |= {
        "load_s": figures.pop("load_s"),
        "prompt_tokens": statistics.median(r["prompt_tokens"] for r in runs),
        "prompt_tps": statistics.median(r["prompt_tps"] for r in runs),
        "prompt_tps_runs": [r["prompt_tps"] for r in runs],
        "gen_tps": statistics.median(gen) if gen else None,
        "gen_tps_runs": [r["gen_tps"] for r in runs],
        "gen_tokens_runs": [r["gen_tokens"] for r in runs],
    }
    outputs = [r["output"] for r in runs]
    if baseline is None:
        entry["outputs_identical_to_baseline"] = True
    elif "outputs" in baseline:
        same = [a == b for a, b in zip(outputs, baseline["outputs"], strict=True)]
        entry["outputs_identical_to_baseline"] = all(same)
        entry["outputs_identical_runs"] = same
        if baseline.get("prompt_tps"):
            entry["prompt_speedup"] = round(entry["prompt_tps"] / baseline["prompt_tps"], 3)
        if baseline.get("gen_tps") and entry["gen_tps"]:
            entry["gen_speedup"] = round(entry["gen_tps"] / baseline["gen_tps"], 3)
    return entry | figures | {"outputs": outputs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", type=Path, default=None, help="default: $RAG_LLM_GGUF or the installed Q4_K_M")
    parser.add_argument("--only", default="", help=f"comma-separated labels: {', '.join(BY_LABEL)}")
    parser.add_argument("--prompts", type=int, default=3, help="prompts per configuration (median reported)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 short prompt (~400 tokens), 8 tokens")
    parser.add_argument("--out", type=Path, default=None, help="default: bench/results/llm-settings[-quick].json")
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    labels = [s.strip() for s in args.only.split(",") if s.strip()] or list(BY_LABEL)
    unknown = [label for label in labels if label not in BY_LABEL]
    if unknown:
        parser.error(f"unknown label(s) {', '.join(unknown)}; choose from {', '.join(BY_LABEL)}")
    configs = [BY_LABEL["baseline"]] + [BY_LABEL[label] for label in labels if label != "baseline"]
    n_prompts, size, gen_tokens = (1, 40, 8) if args.quick else (args.prompts, PASSAGE_CHARS, GEN_TOKENS)
    out = args.out or ROOT / f"bench/results/llm-settings{'-quick' if args.quick else ''}.json"
    gguf: Path = args.gguf or Settings().gguf_path
    if not gguf.is_file():
        raise SystemExit(f'no GGUF at {gguf}; run "make install" or pass --gguf')
    archive = Path(os.environ.get("RAG_ARCHIVE") or ROOT / "tests/data/archive")
    prompts = build_prompts(archive, n_prompts, size)

    started = time.monotonic()
    ggufs: dict[str, Path] = {}
    quantize_s: dict[str, float] = {}
    for qtype in dict.fromkeys(c.quant for c in configs if c.quant):
        t = time.monotonic()
        ggufs[qtype] = quantize(gguf, qtype, threads=os.cpu_count() or 2)
        quantize_s[qtype] = round(time.monotonic() - t, 1)

    entries: list[dict[str, Any]] = []
    baseline: dict[str, Any] | None = None
    for k, config in enumerate(configs, 1):
        path = ggufs[config.quant] if config.quant else gguf
        say(f"[{k}/{len(configs)}] {config.label} ({path.name})")
        t = time.monotonic()
        entry = summarise(config, path, run_config(config, path, prompts, gen_tokens), baseline)
        entry["wall_s"] = round(time.monotonic() - t, 1)
        if config.label == "baseline":
            baseline = entry
        entries.append(entry)
        say(
            f"  {config.label}: prompt {entry.get('prompt_tps')} t/s, generation {entry.get('gen_tps')} t/s, "
            f"same outputs as baseline: {entry.get('outputs_identical_to_baseline', '-')} ({entry['wall_s']} s)"
        )

    figures = {
        "archive": str(archive),
        "quick": args.quick,
        "passage_chars": size,
        "gen_max_tokens": gen_tokens,
        "prompts": [{"question": p["question"], "posts": p["posts"]} for p in prompts],
        "quantize_s": quantize_s,
        "total_s": round(time.monotonic() - started, 1),
        "configs": entries,
    }
    write(out, figures, "make bench-llm-settings")


if __name__ == "__main__":
    main()
