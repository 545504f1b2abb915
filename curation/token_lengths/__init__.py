"""Tokens per row with the training model's tokenizer after its chat template, against ``max_seq_length``.

``tokenizer`` loads the tokenizer (offline SmolLM2 by default) and, for byte-level BPE tokenizers, an
equivalent tiktoken encoding (same ids, several times faster); ``template`` cuts the chat template into the
literal pieces around each turn, so a row's count is its pieces' counts plus its turns' counts; ``count``
counts a whole ``conversations`` column, checking itself against the exact path (render + encode).
"""
