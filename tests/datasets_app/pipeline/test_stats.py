"""Token statistics with a tiny real Hugging Face tokenizer (ByteLevel BPE, trained in-test)."""

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from datasets_app.pipeline.stats import BATCH_SIZE, HISTOGRAM_BINS, token_stats

CORPUS = [
    "the delivery arrived on time",
    "el pedido llegó a tiempo",
    "hello world, hola mundo",
    "customers were happy with the service",
]


@pytest.fixture(scope="module")
def tokenizer():
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator(CORPUS, trainer)
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", core.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>")


def lengths(tokenizer, texts):
    return [len(tokenizer(text)["input_ids"]) for text in texts]


def test_totals_match_per_text_tokenization_including_special_tokens(tokenizer):
    stats = token_stats(CORPUS, tokenizer, max_seq_len=64, tokens_per_second=None)
    expected = lengths(tokenizer, CORPUS)
    assert stats["records"] == 4
    assert stats["total_tokens"] == sum(expected)
    assert min(expected) >= 2  # the <s> special token is counted
    assert stats["max_tokens"] == max(expected)


def test_histogram_has_equal_bins_up_to_max_seq_len_without_overflow(tokenizer):
    stats = token_stats(CORPUS, tokenizer, max_seq_len=64, tokens_per_second=None)
    histogram = stats["histogram"]
    assert histogram["edges"] == list(range(0, 65, 4))
    assert len(histogram["counts"]) == HISTOGRAM_BINS
    assert sum(histogram["counts"]) == 4
    assert stats["share_over_max"] == 0.0


def test_records_over_max_go_to_an_overflow_bin_and_the_share(tokenizer):
    texts = CORPUS + [" ".join(CORPUS) * 3]
    longest = max(lengths(tokenizer, texts))
    stats = token_stats(texts, tokenizer, max_seq_len=16, tokens_per_second=None)
    histogram = stats["histogram"]
    assert histogram["edges"][-2:] == [16, longest]
    assert histogram["counts"][-1] == sum(n > 16 for n in lengths(tokenizer, texts))
    assert sum(histogram["counts"]) == 5
    assert stats["share_over_max"] == pytest.approx(histogram["counts"][-1] / 5)


def test_a_record_exactly_at_max_seq_len_is_not_over_the_max(tokenizer):
    exact = lengths(tokenizer, [CORPUS[0]])[0]
    stats = token_stats([CORPUS[0]], tokenizer, max_seq_len=exact, tokens_per_second=None)
    assert stats["share_over_max"] == 0.0
    assert stats["histogram"]["counts"][-1] == 1
    assert stats["histogram"]["edges"][-1] == exact


def test_epoch_estimate_uses_tokens_truncated_to_max_seq_len(tokenizer):
    texts = CORPUS + [" ".join(CORPUS) * 3]
    truncated = sum(min(n, 16) for n in lengths(tokenizer, texts))
    stats = token_stats(texts, tokenizer, max_seq_len=16, tokens_per_second=8.0)
    assert stats["trained_tokens_per_epoch"] == truncated
    assert stats["est_seconds_per_epoch"] == pytest.approx(truncated / 8.0)
    assert (
        token_stats(texts, tokenizer, max_seq_len=16, tokens_per_second=None)[
            "est_seconds_per_epoch"
        ]
        is None
    )


def test_generators_longer_than_one_batch_are_fully_counted(tokenizer):
    count = BATCH_SIZE * 2 + 17
    stats = token_stats(
        (CORPUS[i % 4] for i in range(count)), tokenizer, max_seq_len=32, tokens_per_second=None
    )
    assert stats["records"] == count
    assert stats["total_tokens"] == sum(lengths(tokenizer, CORPUS)) * (count // 4) + sum(
        lengths(tokenizer, CORPUS[: count % 4])
    )


def test_small_max_seq_len_gets_one_bin_per_token(tokenizer):
    stats = token_stats(["hello"], tokenizer, max_seq_len=4, tokens_per_second=None)
    assert stats["histogram"]["edges"][:5] == [0, 1, 2, 3, 4]


def test_empty_input_gives_zeroes(tokenizer):
    stats = token_stats([], tokenizer, max_seq_len=8, tokens_per_second=10.0)
    assert (stats["records"], stats["total_tokens"], stats["share_over_max"]) == (0, 0, 0.0)
    assert stats["est_seconds_per_epoch"] == 0.0
    assert sum(stats["histogram"]["counts"]) == 0


@pytest.mark.parametrize(("max_seq_len", "rate"), [(0, None), (-5, None), (8, 0.0), (8, -1.0)])
def test_invalid_limits_are_refused(tokenizer, max_seq_len, rate):
    with pytest.raises(ValueError):
        token_stats(CORPUS, tokenizer, max_seq_len=max_seq_len, tokens_per_second=rate)
