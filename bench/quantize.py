"""Re-quantize the shipped Q4_K_M GGUF to another llama.cpp type, once (an existing output is kept).

Q4_0 and IQ4_NL have simpler blocks than Q4_K and llama.cpp repacks them for AVX2 at load, which can
make prompt processing faster on this CPU; `make bench-llm-settings` measures whether it does. The
output is a re-quantization of an already 4-bit file, so its answers can differ from Q4_K_M's: check
them with `rag eval` before adopting one.

    python -m bench.quantize --type q4_0 [--gguf SRC.gguf] [--out DEST.gguf] [--threads 2]

The output defaults to SRC's name with "q4_k_m" replaced by the type (next to SRC).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from rag.settings import Settings

# llama_ftype values (llama.h); llama_cpp exposes them as LLAMA_FTYPE_MOSTLY_*.
FTYPES = {"q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0", "iq4_nl": "LLAMA_FTYPE_MOSTLY_IQ4_NL"}


class QuantizeFailed(RuntimeError):
    pass


def quantized_path(src: Path, qtype: str) -> Path:
    name, n = re.subn("q4_k_m", qtype, src.name, flags=re.I)
    return src.with_name(name if n else f"{src.stem}-{qtype}.gguf")


def quantize(src: Path, qtype: str, dest: Path | None = None, threads: int = 2) -> Path:
    """Write `src` re-quantized to `qtype` at `dest` unless it is already there; return `dest`."""
    if qtype not in FTYPES:
        raise ValueError(f"unknown type {qtype!r}; choose from {', '.join(FTYPES)}")
    dest = dest or quantized_path(src, qtype)
    if dest.is_file():
        return dest
    if not src.is_file():
        raise FileNotFoundError(f'no GGUF at {src}; run "make install" or pass --gguf')
    import llama_cpp
    from llama_cpp._logger import set_verbose

    set_verbose(False)  # otherwise llama.cpp logs one line per tensor (~340) to stderr
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, FTYPES[qtype])
    # the input is already Q4_K_M: llama.cpp refuses to re-quantize quantized tensors unless told to
    params.allow_requantize = True
    params.nthread = threads
    # written under another name and renamed, so an interrupted run leaves no file that a later run
    # (or `make install`) would take as finished
    partial = dest.with_name(dest.name + ".partial")
    print(f"quantize: {src.name} -> {dest.name} ({qtype}, {threads} threads)", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(partial).encode(), params)
    if status != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise QuantizeFailed(f"llama_model_quantize({src} -> {dest}, {qtype}) failed with status {status}")
    os.replace(partial, dest)
    size_mb = dest.stat().st_size / 2**20
    print(f"quantize: wrote {dest} ({size_mb:.0f} MiB) in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--type", required=True, choices=sorted(FTYPES), dest="qtype")
    parser.add_argument("--gguf", type=Path, default=None, help="input (default: $RAG_LLM_GGUF or the installed one)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    src: Path = args.gguf or Settings().gguf_path
    try:
        print(quantize(src, args.qtype, args.out, args.threads))
    except (FileNotFoundError, QuantizeFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
