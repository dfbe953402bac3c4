"""Text embeddings for semantic search: one small static model, read directly.

The model is wordllama's l2_supercat at 256 dimensions: a table of one vector per
token of a Llama-2 tokenizer, averaged over a text's tokens. Its wheel carries both
files, so nothing is downloaded at run time. They are read here with numpy (the
weights memory-mapped) and tokenizers rather than through `import wordllama` (~250 ms
of imports: pydantic, requests); tests check the vectors equal the library's.
Imported only by the commands that embed or search by meaning (numpy, tokenizers);
the model's identity and the embedded text are in model.py.

Measured on 1,636 real papers (benchmarks/eval_search.py): see that script's output.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from papers_cli.engine.model import ModelUnavailable

_WEIGHTS = ("weights", "l2_supercat_256.safetensors")
_TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")


def model_dir() -> Path:
    """The installed wordllama package folder, found without importing it."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("the embedding model is not installed (package wordllama); "
                               "reinstall papers with its dependencies")
    return Path(next(iter(spec.submodule_search_locations)))


class Encoder:
    """Mean of the token vectors of each text, normalised to unit length."""

    def __init__(self, table: np.ndarray, tokenizer: Any) -> None:
        # The file's float16 rows; widened to float32 (exactly) as a whole only when
        # many texts are encoded: a query gathers its few rows and widens those.
        self.half = table
        self._table: np.ndarray | None = None
        self.tokenizer = tokenizer

    @property
    def table(self) -> np.ndarray:
        """The float32 table (made on first use, ~10 ms)."""
        if self._table is None:
            self._table = np.ascontiguousarray(self.half, dtype=np.float32)
        return self._table

    def encode(self, texts: list[str], batch: int = 2048) -> np.ndarray:
        """float32 (len(texts), DIM), unit rows (zero for a text without tokens)."""
        dim = self.half.shape[1]
        out = np.zeros((len(texts), dim), dtype=np.float32)
        # Token vectors are gathered into one small reused buffer that stays in the L2
        # cache: gathering 64k rows at once (64 MB) was 2-4x slower, as every row was
        # written to memory and read back for the sum; a text with more tokens than the
        # buffer gets its own gather (the sums are the same either way).
        buf = np.empty((_BUFFER_ROWS, dim), dtype=np.float32)
        # encode_batch_fast: the same ids without character offsets (unused here).
        encode_batch = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        starts = range(0, len(texts), batch)
        # The next batch is tokenized (Rust, without the GIL) while this one is summed.
        def tokenize(s: int) -> list[Any]:
            return encode_batch(texts[s:s + batch], add_special_tokens=False)  # type: ignore[no-any-return]

        def tokenized() -> Iterator[tuple[int, list[Any]]]:
            if len(starts) <= 1:  # one batch (a query): no thread to start
                yield from ((s, tokenize(s)) for s in starts)
                return
            with ThreadPoolExecutor(max_workers=1) as pool:
                ahead = pool.submit(tokenize, starts[0]) if starts else None
                for k, s in enumerate(starts):
                    assert ahead is not None
                    encs = ahead.result()
                    # One batch ahead only: the encodings of every text would not fit.
                    ahead = pool.submit(tokenize, starts[k + 1]) if k + 1 < len(starts) else None
                    yield s, encs

        table = self.table if len(texts) > _FEW_TEXTS else self.half
        self._sum_batches(tokenized(), table, out, buf)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def _sum_batches(self, batches: Iterable[tuple[int, list[Any]]], table: np.ndarray,
                     out: np.ndarray, buf: np.ndarray) -> None:
        """Add each text's token vectors into its row of `out` (as a mean)."""
        for start, encs in batches:
            lengths = np.fromiter((min(len(e.ids), _MAX_TOKENS) for e in encs),
                                  dtype=np.int64, count=len(encs))
            flat = np.fromiter(itertools.chain.from_iterable(e.ids[:_MAX_TOKENS] for e in encs),
                               dtype=np.int64, count=int(lengths.sum()))
            np.clip(flat, 0, table.shape[0] - 1, out=flat)
            offsets = np.concatenate(([0], np.cumsum(lengths)))
            i = 0
            while i < len(encs):
                j = int(np.searchsorted(offsets, offsets[i] + _BUFFER_ROWS, side="right")) - 1
                j = max(j, i + 1)
                lo, hi = int(offsets[i]), int(offsets[j])
                docs = np.arange(i, j)[lengths[i:j] > 0]
                if len(docs):
                    fits = hi - lo <= _BUFFER_ROWS and table.dtype == buf.dtype
                    rows = np.take(table, flat[lo:hi], axis=0, out=buf[:hi - lo] if fits else None)
                    rows = rows.astype(np.float32, copy=False)  # float16 -> 32 is exact
                    sums = np.add.reduceat(rows, offsets[docs] - lo, axis=0)
                    out[start + docs] = sums / lengths[docs, None].astype(np.float32)
                i = j


# Up to this many texts are encoded from the float16 table (see Encoder.__init__).
_FEW_TEXTS = 64
# The most tokens of one text that are used (a text longer than this is cut).
_MAX_TOKENS = 65536
# Rows gathered at once into the reused buffer (512 KB at 256-d; fastest of 256..64k
# on 5k abstracts of the 100k benchmark corpus).
_BUFFER_ROWS = 512


def _mapped_tensor(path: Path, name: str) -> np.ndarray:
    """One tensor of a .safetensors file, memory-mapped: a query reads only the rows of
    its few tokens instead of the whole 16 MB table. The format is an 8-byte
    little-endian header length, a JSON header (dtype, shape, data offsets of each
    tensor), then the data (huggingface.co/docs/safetensors)."""
    with open(path, "rb") as fh:
        size = int.from_bytes(fh.read(8), "little")
        if not 0 < size < 100_000_000:
            raise ValueError(f"{path}: not a safetensors file")
        info = json.loads(fh.read(size))[name]
    dtype = {"F16": np.float16, "F32": np.float32}[info["dtype"]]
    begin, end = info["data_offsets"]
    shape = tuple(int(x) for x in info["shape"])
    if end - begin != int(np.prod(shape)) * np.dtype(dtype).itemsize:
        raise ValueError(f"{path}: {name} has the wrong size")
    return np.memmap(path, dtype=dtype, mode="r", offset=8 + size + begin, shape=shape)


@lru_cache(maxsize=1)
def load() -> Encoder:
    """The model, from the installed package's files (offline; ~50 ms)."""
    # Nothing here should reach a hub; make sure a library that might does not try.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = model_dir()
    weights, tok = root.joinpath(*_WEIGHTS), root.joinpath(*_TOKENIZER)
    if not weights.exists() or not tok.exists():
        raise ModelUnavailable(f"the embedding model's files are missing under {root}")
    try:
        table = _mapped_tensor(weights, "embedding.weight")
    except (OSError, ValueError, KeyError) as e:
        raise ModelUnavailable(f"the embedding model's weights cannot be read ({e})") from None
    tokenizer = Tokenizer.from_file(str(tok))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return Encoder(table, tokenizer)
