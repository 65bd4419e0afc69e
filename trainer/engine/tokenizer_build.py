"""Byte-level BPE tokenizers trained in-process (tiny test models and from-scratch training).

The tokenizer is wrapped as a `PreTrainedTokenizerFast` with bos/eos/pad tokens and a ChatML chat
template, so the rest of the engine treats it exactly like a downloaded Hugging Face tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

BOS_TOKEN = "<|endoftext|>"  # noqa: S105 - a vocabulary entry, not a secret
EOS_TOKEN = "<|im_end|>"  # noqa: S105
PAD_TOKEN = "<|pad|>"  # noqa: S105
IM_START_TOKEN = "<|im_start|>"  # noqa: S105
SPECIAL_TOKENS = [BOS_TOKEN, IM_START_TOKEN, EOS_TOKEN, PAD_TOKEN]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Small mixed-language corpus so the tiny test tokenizer merges common sub-words of EN/ES text.
BUILTIN_CORPUS = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps in the sun.",
    "Our organization trains private language models on its own documents.",
    "Please summarise the quarterly report and list the three main risks.",
    "The customer asked for a refund because the package arrived late.",
    "El zorro marrón salta sobre el perro perezoso. La reunión es el martes.",
    "Los datos de la empresa se quedan en nuestros servidores.",
    "Question: what is two plus two? Answer: four. Question: what is the capital of France? Paris.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 100 2024 3.14 -7 50% $20",
    "user assistant system: hello, how can I help you today? Thank you very much!",
]


def train_bpe_tokenizer(
    texts: Iterable[str], vocab_size: int, *, model_max_length: int = 2048
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts` and wrap it as a HF fast tokenizer.

    Guarantees: every byte is encodable (byte-level alphabet), the special tokens have the lowest
    ids, and the result carries a ChatML chat template. Deterministic for the same texts and
    vocab_size.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return wrap_tokenizer(tokenizer, model_max_length=model_max_length)


def wrap_tokenizer(tokenizer: Tokenizer, *, model_max_length: int) -> PreTrainedTokenizerFast:
    """Wrap a raw `tokenizers.Tokenizer` with our special tokens and chat template."""
    # transformers leaves this constructor unannotated.
    wrapped = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[IM_START_TOKEN],
        model_max_length=model_max_length,
    )
    wrapped.chat_template = CHATML_TEMPLATE
    return wrapped
