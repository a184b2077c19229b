"""Hugging Face Hub models API: parameter counts, licences, release dates, architecture.

List: ``GET {base}/api/models?author=X&sort=createdAt&direction=-1&limit=N&expand[]=…`` per
configured organisation, following ``Link: <…>; rel="next"`` cursor pages (the documented
pagination; ``huggingface_hub.utils._pagination``). ``expand[]`` returns only ``_id``, ``id``
and the expanded keys.

Quirks (see tests/fixtures/sources/huggingface/README.md):

- ``safetensors.total`` is the sum over every dtype. For float repos (F32 + BF16 norms, FP8
  weights with F32 scales) that sum is the parameter count, so we use it. When integer dtypes
  (I8/U8/I32/…) appear the repo is quantized or packed (GPTQ/AWQ/bitsandbytes) and the sum is
  not the logical count: we report ``None`` rather than a wrong number. GGUF-only repos give
  ``gguf.total``.
- The API's ``config`` is a digest (``architectures``, ``model_type``, ``tokenizer_config``);
  layer counts live in the repo's ``config.json``, fetched optionally for the newest repos
  (``fetch_configs``). Gated repos refuse that file without a token: we skip, not fail.
- ``createdAt`` is ``2022-03-02T23:29:04.000Z`` for every repo older than the Hub's dates:
  treated as unknown.
- Open weights: a repo with safetensors or GGUF weights is open weights (gated or not; the
  licence says how open). A repo with neither (placeholder, .bin-only) is left unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jobs.sources.base import (
    ModelRecord,
    RejectedRow,
    SourceBatch,
    SourceError,
    SourceFormatError,
    SourceState,
    build_record,
    content_hash,
    parse_date,
    unchanged_batch,
    utcnow,
)
from jobs.sources.http import decode_json

if TYPE_CHECKING:
    from jobs.sources.http import SourceClient

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://huggingface.co"
EXPAND = ("safetensors", "config", "cardData", "gated", "createdAt", "likes", "tags", "gguf")
HF_SENTINEL_CREATED = date(2022, 3, 2)  # createdAt of every repo older than HF's dates

# safetensors dtypes that store one logical parameter per element.
FLOAT_DTYPES = frozenset(
    {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "F8_E4M3FN", "F8_E8M0", "F8_E5M2FNUZ"}
)


def params_from_safetensors(info: Mapping[str, Any] | None) -> int | None:
    """Logical parameter count from the ``safetensors`` block, or None when not trustworthy."""
    if not isinstance(info, Mapping):
        return None
    per_dtype = info.get("parameters")
    if not isinstance(per_dtype, Mapping) or not per_dtype:
        return None
    if any(str(dtype).upper() not in FLOAT_DTYPES for dtype in per_dtype):
        return None  # quantized/packed: the sum counts storage elements, not parameters
    total = info.get("total")
    if isinstance(total, int) and total > 0:
        return total
    counts = [v for v in per_dtype.values() if isinstance(v, int)]
    return sum(counts) or None


def license_of(item: Mapping[str, Any]) -> str | None:
    """Licence id from ``cardData.license`` (``license_name`` for "other"), else the tags."""
    card = item.get("cardData") if isinstance(item.get("cardData"), Mapping) else {}
    value = card.get("license")
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str) and value.strip():
        value = value.strip()
        if value == "other" and isinstance(card.get("license_name"), str):
            return card["license_name"].strip() or value
        return value
    for tag in item.get("tags") or ():
        if isinstance(tag, str) and tag.startswith("license:"):
            return tag.removeprefix("license:") or None
    return None


def _int(cfg: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def kv_lora_rank_of(cfg: Mapping[str, Any]) -> int | None:
    """``kv_lora_rank`` of an MLA config (DeepSeek-V2/V3, Kimi K2 …), else None."""
    return _int(cfg, "kv_lora_rank")


_LINEAR_TYPES = ("linear_attention", "mamba", "ssm", "recurrent", "linear", "deltanet")


def architecture_from_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Architecture fields for the KV-cache estimate from a ``config.json`` mapping.

    Handles nested ``text_config`` (multimodal), GQA/MQA, MLA (``kv_lora_rank``), MoE
    (``n_routed_experts``/``num_experts``/``num_local_experts``), sliding windows (respecting
    ``use_sliding_window: false``), ``layer_types`` and Gemma's sliding pattern, and hybrid
    linear-attention/SSM stacks.
    """
    if not isinstance(config, Mapping):
        return {}
    cfg: dict[str, Any] = dict(config)
    text_cfg = cfg.get("text_config")
    if isinstance(text_cfg, Mapping):
        cfg = {**cfg, **text_cfg}
    layers = _int(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers")
    heads = _int(cfg, "num_attention_heads", "n_head", "n_heads")
    kv_heads = _int(cfg, "num_key_value_heads", "n_kv_heads", "num_kv_heads")
    if kv_heads is None and cfg.get("multi_query") is True:
        kv_heads = 1
    if kv_heads is None:
        kv_heads = heads
    hidden = _int(cfg, "hidden_size", "n_embd", "d_model")
    head_dim = _int(cfg, "head_dim")
    if head_dim is None and kv_lora_rank_of(cfg):
        # MLA: hidden/heads means nothing here (DeepSeek-V3: 7168/128 = 56, real 128 + 64).
        nope, rope = _int(cfg, "qk_nope_head_dim"), _int(cfg, "qk_rope_head_dim")
        head_dim = nope + rope if nope and rope else None
    elif head_dim is None and hidden and heads and hidden % heads == 0:
        head_dim = hidden // heads
    kv_lora_rank = kv_lora_rank_of(cfg)
    sliding = _int(cfg, "sliding_window")
    if cfg.get("use_sliding_window") is False:
        sliding = None  # Qwen2-style configs carry a window they do not use
    layer_types = cfg.get("layer_types") or cfg.get("layers_block_type")
    full_layers: int | None = None
    attention: str | None = None
    if isinstance(layer_types, Sequence) and not isinstance(layer_types, str) and layer_types:
        kinds = [str(t).lower() for t in layer_types]
        full_layers = sum(1 for k in kinds if k in ("full_attention", "attention", "global"))
        if any(any(lin in k for lin in _LINEAR_TYPES) for k in kinds):
            attention = "hybrid"
        elif any("sliding" in k or "local" in k for k in kinds):
            attention = "sliding"
    elif sliding and layers:
        pattern = _int(cfg, "sliding_window_pattern")
        if pattern is None and cfg.get("model_type") == "gemma2":
            pattern = 2  # Gemma 2 alternates local and global layers
        full_layers = layers // pattern if pattern else 0
        attention = "sliding"
    elif (period := _int(cfg, "attn_layer_period")) and layers:
        full_layers = layers // period  # Jamba: one attention layer per period, rest Mamba
        attention = "hybrid"
    if attention is None:
        if kv_lora_rank:
            attention = "mla"
        elif heads and kv_heads:
            attention = "mha" if kv_heads == heads else "gqa"
    result = {
        "layers": layers,
        "attention_heads": heads,
        "kv_heads": kv_heads,
        "hidden_size": hidden,
        "head_dim": head_dim,
        "max_context": _int(cfg, "max_position_embeddings", "n_positions", "seq_length"),
        "attention": attention,
        "sliding_window": sliding if attention in ("sliding", "hybrid") else None,
        "full_attention_layers": full_layers,
        "kv_lora_rank": kv_lora_rank,
        "qk_rope_head_dim": _int(cfg, "qk_rope_head_dim"),
        "experts": _int(
            cfg, "n_routed_experts", "num_experts", "num_local_experts", "moe_num_experts"
        ),
        "experts_per_token": _int(cfg, "num_experts_per_tok", "moe_topk", "num_experts_per_token"),
    }
    return {k: v for k, v in result.items() if v is not None}


def parse_model(
    item: Mapping[str, Any],
    rejected: list[RejectedRow],
    *,
    base_url: str = DEFAULT_BASE_URL,
    config: Mapping[str, Any] | None = None,
) -> ModelRecord | None:
    """One Hub model (single-model GET or list item) → a :class:`ModelRecord`.

    Args:
        item: The JSON object.
        rejected: Collects a :class:`RejectedRow` when the item is unusable.
        base_url: Hub base, for the record's URL.
        config: A full ``config.json`` for the architecture (the API's own ``config`` is used
            when absent).
    """
    repo = item.get("id") or item.get("modelId")
    if not isinstance(repo, str) or "/" not in repo:
        rejected.append(RejectedRow.of("model item without an owner/name id", item))
        return None
    owner, _, short = repo.partition("/")
    params = params_from_safetensors(item.get("safetensors"))
    if params is None and isinstance(item.get("gguf"), Mapping):
        total = item["gguf"].get("total")
        params = total if isinstance(total, int) and total > 0 else None
    has_weights = isinstance(item.get("safetensors"), Mapping) or isinstance(
        item.get("gguf"), Mapping
    )
    created = parse_date(item.get("createdAt"))
    if created == HF_SENTINEL_CREATED:
        created = None
    gated = item.get("gated")
    return build_record(
        ModelRecord,
        {"id": repo},
        rejected,
        name=short,
        source_model_id=repo,
        organization=item.get("author") if isinstance(item.get("author"), str) else owner,
        open_weights=True if has_weights else None,
        license=license_of(item),
        released_on=created,
        total_params_b=round(params / 1e9, 3) if params else None,
        hf_repo=repo,
        gated=None if gated is None else gated is not False,
        likes=item.get("likes") if isinstance(item.get("likes"), int) else None,
        url=f"{base_url.rstrip('/')}/{repo}",
        **architecture_from_config(config if config is not None else item.get("config")),
    )


def parse_models_page(
    payload: bytes | str | list[Any],
    *,
    base_url: str = DEFAULT_BASE_URL,
    fetched_at: datetime | None = None,
    url: str = DEFAULT_BASE_URL + "/api/models",
) -> SourceBatch:
    """Parse one list page (a JSON array of model objects) into a batch.

    Raises:
        SourceFormatError: Not a JSON array.
    """
    items = _decode(payload)
    if not isinstance(items, list):
        raise SourceFormatError("model list is not a JSON array", source="huggingface")
    rejected: list[RejectedRow] = []
    models = []
    for item in items:
        if not isinstance(item, Mapping):
            rejected.append(RejectedRow.of("list item is not an object", item))
            continue
        record = parse_model(item, rejected, base_url=base_url)
        if record:
            models.append(record)
    return SourceBatch(
        source="huggingface",
        fetched_at=fetched_at or utcnow(),
        url=url,
        models=models,
        rejected=rejected,
    )


def _decode(payload: bytes | str | list[Any] | dict[str, Any]) -> Any:
    if isinstance(payload, bytes | str):
        raw = payload.encode() if isinstance(payload, str) else payload
        return decode_json(raw, source="huggingface")
    return payload


@dataclass(slots=True)
class HuggingFaceSource:
    """Newest models of configured organisations on the Hub.

    Attributes:
        authors: Organisations to list (``deepseek-ai``, ``Qwen`` …).
        base_url: Hub base URL (tests point it at 127.0.0.1).
        page_size: ``limit`` per page.
        max_pages: Pages per author (the list is newest first, so a few pages suffice).
        token: Optional HF token (raises rate limits; sent as a header, never logged).
        fetch_configs: Also fetch ``config.json`` for architecture.
        max_configs: At most this many ``config.json`` requests per poll.
    """

    authors: tuple[str, ...] = ()
    base_url: str = DEFAULT_BASE_URL
    page_size: int = 100
    max_pages: int = 5
    token: str | None = field(default=None, repr=False)
    fetch_configs: bool = False
    max_configs: int = 20
    key: str = "huggingface"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def list_params(self, author: str) -> list[tuple[str, str]]:
        """Query string of the first list page for ``author``."""
        params = [
            ("author", author),
            ("sort", "createdAt"),
            ("direction", "-1"),
            ("limit", str(self.page_size)),
        ]
        params += [("expand[]", prop) for prop in EXPAND]
        return params

    async def fetch(self, client: SourceClient, state: SourceState) -> SourceBatch:
        """List every author's newest models, following cursor pages.

        The list has no single ETag, so "unchanged" means the same content hash over all pages.
        """
        fetched_at = utcnow()
        list_url = f"{self.base_url.rstrip('/')}/api/models"
        host = urlsplit(self.base_url).netloc
        bodies: list[bytes] = []
        items: list[Mapping[str, Any]] = []
        for author in self.authors:
            url: str | None = list_url
            params: list[tuple[str, str]] | None = self.list_params(author)
            for _ in range(self.max_pages):
                if url is None:
                    break
                result = await client.get(
                    url, source=self.key, params=params, headers=self._headers(), expect="json"
                )
                bodies.append(result.content)
                page = result.json(source=self.key)
                if not isinstance(page, list):
                    raise SourceFormatError("model list is not a JSON array", source=self.key)
                items.extend(i for i in page if isinstance(i, Mapping))
                next_url = result.links.get("next")
                if next_url and urlsplit(next_url).netloc not in ("", host):
                    log.warning("%s: ignoring a next link to another host", self.key)
                    next_url = None
                url, params = next_url, None  # the cursor URL carries the whole query
        digest = content_hash(*bodies)
        if digest == state.content_hash:
            return unchanged_batch(self.key, list_url, fetched_at, state, digest=digest)
        configs: dict[str, Mapping[str, Any]] = {}
        if self.fetch_configs:
            configs = await self._fetch_configs(client, items)
        rejected: list[RejectedRow] = []
        models: dict[str, ModelRecord] = {}
        for item in items:
            repo = item.get("id")
            record = parse_model(
                item,
                rejected,
                base_url=self.base_url,
                config=configs.get(repo) if isinstance(repo, str) else None,
            )
            if record and record.hf_repo not in models:
                models[record.hf_repo or record.name] = record
        log.info("%s: %d models from %d authors", self.key, len(models), len(self.authors))
        return SourceBatch(
            source=self.key,
            fetched_at=fetched_at,
            url=list_url,
            models=list(models.values()),
            rejected=rejected,
            content_hash=digest,
        )

    async def _fetch_configs(
        self, client: SourceClient, items: list[Mapping[str, Any]]
    ) -> dict[str, Mapping[str, Any]]:
        configs: dict[str, Mapping[str, Any]] = {}
        repos = [i["id"] for i in items if isinstance(i.get("id"), str)][: self.max_configs]
        for repo in repos:
            url = f"{self.base_url.rstrip('/')}/{repo}/resolve/main/config.json"
            try:
                result = await client.get(
                    url, source=self.key, headers=self._headers(), expect="json", max_bytes=1 << 20
                )
                config = result.json(source=self.key)
            except SourceError as exc:  # gated (401/403), no config (404), drift: skip it
                log.info("%s: no config.json for %s (%s)", self.key, repo, exc.message)
                continue
            if isinstance(config, Mapping):
                configs[repo] = config
        return configs
