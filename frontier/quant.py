"""Quantization formats with their effective bits per weight, and KV-cache element types.

A format's *effective* bits per weight (bpw) is the whole-file average, which is what memory
needs. A GGUF file runs above its pure block layout: the K_M mixes keep ``attn_v`` and
``ffn_down`` in a higher type, and the embedding and output tensors are large in small models.
Where llama.cpp has measured a whole file (``tools/quantize/README.md``, Llama-3.1-8B) that
figure is used; it is slightly conservative for larger models. Sources are collected in
``notes/prior-art.md`` section 2.3.

``nominal_bits`` is the bit class a format is sold as (the digit in ``Q4_K_M``, 16 for FP16).
"4-bit or better" compares ``nominal_bits``, so a Q3_K_M file (4.0 effective bpw) is still 3-bit.

Loose names (the report's "Q4", "INT4", "8-bit") resolve to the GGUF format a consumer runs,
choosing the larger file where there is a choice, so an estimate errs towards "does not fit":
``Q4``/``INT4``/``4-bit`` → Q4_K_M, ``Q5`` → Q5_K_M, ``Q6`` → Q6_K, ``Q8``/``8-bit`` → Q8_0,
``Q3`` → Q3_K_M, ``Q2`` → Q2_K. ``INT8`` is its own entry: one byte per weight, as HF
accelerate counts int8 (per-channel scales are negligible).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from frontier.errors import InputError

# Where each figure comes from (notes/prior-art.md §2.3).
_MEASURED = "llama.cpp tools/quantize/README.md: whole-file bpw measured on Llama-3.1-8B"
_STORAGE = "storage width of the number format (safetensors checkpoints)"
_ACCELERATE = "HF accelerate estimate.py: int8 = fp32 size / 4, one byte per weight"
_QUANTIZE_SIZE = (
    "llama.cpp quantize.cpp: file size on Llama-3-8B (8.03e9 weights); bpw = GiB·2**30·8 / 8.03e9"
)
_BLOCK_ONLY = (
    "ggml-common.h block (32 weights, 22 bytes); no whole-file measurement, so a lower bound "
    "(Q4_0's file runs 0.14 bpw above its 4.5-bpw block)"
)


@dataclass(frozen=True)
class Quant:
    """A weight format.

    Attributes:
        name: Canonical name, e.g. ``Q4_K_M``.
        bits_per_weight: Effective (whole-file) bits per weight.
        nominal_bits: The bit class the format is sold as (4 for every ``Q4_*``/``IQ4_*``).
        family: ``float``, ``int``, ``gguf`` (legacy and K-quants) or ``gguf-iq`` (i-quants).
        source: Where ``bits_per_weight`` comes from.
        aliases: Other names accepted by :func:`lookup_quant`.
    """

    name: str
    bits_per_weight: float
    nominal_bits: float
    family: str
    source: str
    aliases: tuple[str, ...] = ()

    @property
    def bytes_per_weight(self) -> float:
        """Effective bytes per weight."""
        return self.bits_per_weight / 8


# Highest to lowest precision (effective bpw, descending; ties keep this order).
QUANTS: tuple[Quant, ...] = (
    Quant("FP32", 32.0, 32, "float", _STORAGE, ("F32", "FLOAT32")),
    # 2 bytes per weight; llama.cpp's whole-file F16 measures 16.0005 (its F32 norm tensors).
    Quant("BF16", 16.0, 16, "float", _STORAGE, ("BFLOAT16",)),
    Quant("FP16", 16.0, 16, "float", _STORAGE, ("F16", "FLOAT16", "HALF")),
    Quant("Q8_0", 8.5008, 8, "gguf", _MEASURED, ("Q8", "8BIT")),
    Quant("FP8", 8.0, 8, "float", _STORAGE, ("F8", "E4M3", "FP8_E4M3")),
    Quant("INT8", 8.0, 8, "int", _ACCELERATE, ("I8",)),
    Quant("Q6_K", 6.5633, 6, "gguf", _MEASURED, ("Q6", "6BIT")),
    Quant("Q5_K_M", 5.7036, 5, "gguf", _MEASURED, ("Q5", "Q5_K", "5BIT")),
    Quant("Q5_K_S", 5.5704, 5, "gguf", _MEASURED),
    Quant("Q5_0", 5.5, 5, "gguf", _BLOCK_ONLY),
    Quant("Q4_K_M", 4.8944, 4, "gguf", _MEASURED, ("Q4", "Q4_K", "4BIT", "INT4")),
    Quant("IQ4_NL", 4.6818, 4, "gguf-iq", _MEASURED),
    Quant("Q4_K_S", 4.6672, 4, "gguf", _MEASURED),
    Quant("Q4_0", 4.64, 4, "gguf", _QUANTIZE_SIZE + " (4.34 GiB)"),
    Quant("IQ4_XS", 4.4597, 4, "gguf-iq", _MEASURED),
    Quant("Q3_K_L", 4.2979, 3, "gguf", _MEASURED),
    Quant("Q3_K_M", 4.00, 3, "gguf", _QUANTIZE_SIZE + " (3.74 GiB)", ("Q3", "Q3_K", "3BIT")),
    Quant("IQ3_M", 3.7628, 3, "gguf-iq", _MEASURED),
    Quant("IQ3_S", 3.6606, 3, "gguf-iq", _MEASURED),
    Quant("Q3_K_S", 3.6429, 3, "gguf", _MEASURED),
    Quant("IQ3_XS", 3.4977, 3, "gguf-iq", _MEASURED),
    Quant("IQ3_XXS", 3.2548, 3, "gguf-iq", _MEASURED),
    Quant("Q2_K", 3.1593, 2, "gguf", _MEASURED, ("Q2", "2BIT")),
    Quant("Q2_K_S", 2.9697, 2, "gguf", _MEASURED),
    Quant("IQ2_M", 2.9294, 2, "gguf-iq", _MEASURED),
    Quant("IQ2_S", 2.7403, 2, "gguf-iq", _MEASURED),
    Quant("IQ2_XS", 2.5882, 2, "gguf-iq", _MEASURED),
    Quant("IQ2_XXS", 2.3824, 2, "gguf-iq", _MEASURED),
    Quant("IQ1_M", 2.1460, 1, "gguf-iq", _MEASURED),
    Quant("IQ1_S", 2.0042, 1, "gguf-iq", _MEASURED),
)


@dataclass(frozen=True)
class KvCacheType:
    """An element type for the KV cache (llama.cpp ``--cache-type-k/-v``)."""

    name: str
    bytes_per_element: float
    source: str

    @property
    def quantized(self) -> bool:
        """Whether this is a block-quantized type (a quantized V cache needs flash attention)."""
        return self.name.startswith("q")


_GGML_BLOCK = "ggml-common.h block layout: bytes per 32-element block / 32"

KV_CACHE_TYPES: tuple[KvCacheType, ...] = (
    KvCacheType("f32", 4.0, "IEEE 754 binary32"),
    KvCacheType("f16", 2.0, "IEEE 754 binary16; llama.cpp's default cache type"),
    KvCacheType("bf16", 2.0, "bfloat16"),
    KvCacheType("q8_0", 34 / 32, _GGML_BLOCK + " (34 bytes: 8.5 bits)"),
    KvCacheType("q5_1", 24 / 32, _GGML_BLOCK + " (24 bytes: 6.0 bits)"),
    KvCacheType("q5_0", 22 / 32, _GGML_BLOCK + " (22 bytes: 5.5 bits)"),
    KvCacheType("q4_1", 20 / 32, _GGML_BLOCK + " (20 bytes: 5.0 bits)"),
    KvCacheType("q4_0", 18 / 32, _GGML_BLOCK + " (18 bytes: 4.5 bits)"),
)


class UnknownQuantError(InputError):
    """A quantization or KV-cache type name that is not in the table; the message lists them."""


def _key(name: str) -> str:
    """Fold case and separators: ``q4-k-m``, ``Q4_K_M`` and ``q4 k m`` are one key."""
    return re.sub(r"[^0-9A-Z]", "", name.upper())


def _close(name: str, names: list[str]) -> list[str]:
    """Up to three valid names that look like ``name``, for "did you mean …?"."""
    by_key = {_key(n): n for n in names}
    return [by_key[k] for k in difflib.get_close_matches(_key(name), list(by_key), n=3)]


_QUANT_BY_KEY: dict[str, Quant] = {
    _key(alias): quant for quant in QUANTS for alias in (quant.name, *quant.aliases)
}
_KV_BY_KEY: dict[str, KvCacheType] = {_key(kv.name): kv for kv in KV_CACHE_TYPES}


def lookup_quant(name: str | Quant) -> Quant:
    """Find a weight format by name or alias, ignoring case and separators.

    Args:
        name: A name such as ``Q4_K_M``, ``q4_k_m``, ``Q4`` or ``fp16``; a ``Quant`` passes through.

    Returns:
        The matching format.

    Raises:
        UnknownQuantError: The name is not in the table; the message lists the valid names.
    """
    if isinstance(name, Quant):
        return name
    quant = _QUANT_BY_KEY.get(_key(name))
    if quant is None:
        names = [q.name for q in QUANTS]
        raise UnknownQuantError(
            f"Unknown quantization {name!r}. Valid: {', '.join(names)}.", _close(name, names)
        )
    return quant


def lookup_kv_cache_type(name: str | KvCacheType) -> KvCacheType:
    """Find a KV-cache element type by name (``f16``, ``q8_0``, ``q4_0`` …), ignoring case.

    Raises:
        UnknownQuantError: The name is not in the table; the message lists the valid names.
    """
    if isinstance(name, KvCacheType):
        return name
    kv = _KV_BY_KEY.get(_key(name))
    if kv is None:
        names = [k.name for k in KV_CACHE_TYPES]
        raise UnknownQuantError(
            f"Unknown KV cache type {name!r}. Valid: {', '.join(names)}.", _close(name, names)
        )
    return kv
