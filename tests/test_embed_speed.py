"""The fast paths of embeddings.Encoder.encode (buffered gather, float16 table for a
few texts, tokenizing in a thread across batches) give the same vectors as encoding
each text alone."""

from __future__ import annotations

import numpy as np

from papers_cli.engine import embeddings, model


def _texts() -> list[str]:
    words = "sparse activation diffusion robot graph retrieval token Ünïcödé 数学".split()
    # Short, empty, and longer than the gather buffer (its own gather).
    texts = [" ".join(words[i % len(words):] + words[:i % len(words)]) for i in range(90)]
    texts[5] = ""
    texts[17] = " ".join(words * 200)  # well over _BUFFER_ROWS tokens
    return texts


def test_many_texts_equal_each_text_alone() -> None:
    enc = embeddings.load()
    texts = _texts()
    assert len(texts) > embeddings._FEW_TEXTS  # the float32 table path
    together = enc.encode(texts, batch=7)  # many batches: the tokenizer thread
    alone = np.vstack([enc.encode([t]) for t in texts])  # the float16 path, one batch
    assert together.shape == (len(texts), model.DIM)
    assert np.array_equal(together, alone)
    assert not together[5].any()  # no tokens: a zero row
    norms = np.linalg.norm(np.delete(together, 5, axis=0), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_long_text_is_the_mean_of_its_token_vectors() -> None:
    enc = embeddings.load()
    text = _texts()[17]
    ids = enc.tokenizer.encode(text, add_special_tokens=False).ids
    assert len(ids) > embeddings._BUFFER_ROWS
    mean = enc.table[ids].astype(np.float64).mean(axis=0)
    expect = mean / np.linalg.norm(mean)
    assert np.allclose(enc.encode([text])[0], expect, atol=1e-5)
