#!/usr/bin/python3
"""Golden outputs for the Go tokenizers, from an independent Python reference.

Run from data/tokenizer/testdata:  /usr/bin/python3 gen/gen_golden.py
Needs the `regex` module (Debian: python3-regex) for GPT-2's \\p{L}/\\p{N} pattern.

Writes
  gpt2_golden.json: GPT-2 encodings of awkward strings, computed with GPT-2's
      published algorithm (pattern split, byte-to-unicode map, rank-ordered
      merges), with "<|endoftext|>" treated as the special id 50256 the way
      Hugging Face's GPT2Tokenizer does.
  bpe_golden.json: merges learned from train_sample.txt by a naive trainer that
      recounts every pair after each merge (most frequent pair first, ties to the
      smaller (left, right) id pair, stop below 2 occurrences; byte b has id b,
      merge i makes id 256+i), and encodings of a few strings with them.
"""
import gzip
import json

import regex

PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def gpt2_bpe(token, ranks):
    word = list(token)
    while len(word) > 1:
        pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        out, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == best[0] and word[i + 1] == best[1]:
                out.append(word[i] + word[i + 1])
                i += 2
            else:
                out.append(word[i])
                i += 1
        word = out
    return word


def gpt2_encode(text, encoder, ranks, b2u):
    ids = []
    parts = text.split(EOT)
    for k, part in enumerate(parts):
        if k > 0:
            ids.append(encoder[EOT])
        for piece in PAT.findall(part):
            sym = "".join(b2u[b] for b in piece.encode("utf-8"))
            ids.extend(encoder[t] for t in gpt2_bpe(sym, ranks))
    return ids


def naive_train(text, num_merges):
    from collections import Counter
    words = Counter(PAT.findall(text))
    seqs = [(list(w.encode("utf-8")), c) for w, c in sorted(words.items())]
    merges = []
    for m in range(num_merges):
        counts = Counter()
        for s, c in seqs:
            for i in range(len(s) - 1):
                counts[(s[i], s[i + 1])] += c
        if not counts:
            break
        best = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if best[1] < 2:
            break
        pair, new = best[0], 256 + m
        merges.append(list(pair))
        for idx, (s, c) in enumerate(seqs):
            out, i = [], 0
            while i < len(s):
                if i < len(s) - 1 and (s[i], s[i + 1]) == pair:
                    out.append(new)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[idx] = (out, c)
    return merges


def naive_encode(text, merges):
    rank = {tuple(p): i for i, p in enumerate(merges)}
    ids = []
    for piece in PAT.findall(text):
        word = list(piece.encode("utf-8"))
        while len(word) > 1:
            cands = [(rank[(word[i], word[i + 1])], i) for i in range(len(word) - 1) if (word[i], word[i + 1]) in rank]
            if not cands:
                break
            r = min(cands)[0]
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and rank.get((word[i], word[i + 1])) == r:
                    out.append(256 + r)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        ids.extend(word)
    return ids


CASES = [
    "Hello world",
    " Hello",
    "<|endoftext|>",
    "a<|endoftext|>b<|endoftext|><|endoftext|>",
    "<|endoftext",
    "Hello, world! It's a test.",
    "I'm sure you'll see they've said we'd go; she's OK. 'RE 'S 'll'",
    "don't''s '''s x's",
    "   leading spaces",
    "trailing spaces   ",
    "a\n\nb",
    "\n\n\n",
    "a \n b",
    "tab\there \t\tand\t",
    "numbers 12345 and 3.14159 and 1,000,000",
    "Ünïcödé façade naïve Ærøskøbing",
    "日本語のテキストです。",
    "emoji 😀👍🏽 and flags 🇫🇷",
    "mixed\r\nline endings\r\n",
    "multiple    spaces   between  words",
    "!!!???...---***",
    " 's 't 're",
    "x\u00a0y\u2028z\u3000w",
    "sep\x1cchar\x1f here",
    "Ⅻ roman ٣ arabic ½ fraction",
    "        ",
    " ",
    "a",
    "\"Quoted,\" he said -- 'single' (paren) [brack] {brace}",
    "It is a truth universally acknowledged, that a single man in possession\nof a good fortune, must be in want of a wife.\n",
]

BPE_CASES = [
    "It is a truth universally acknowledged, that a single man in possession",
    "Mr. Bennet's daughters\n\n  were   \"quite\" delightful!",
    "zzzz qqqq",
]


def main():
    b2u = bytes_to_unicode()
    with gzip.open("gpt2/encoder.json.gz", "rt", encoding="utf-8") as f:
        encoder = json.load(f)
    with gzip.open("gpt2/vocab.bpe.gz", "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")[1:]
    ranks = {tuple(l.split()): i for i, l in enumerate(l for l in lines if l)}
    gold = [{"text": t, "ids": gpt2_encode(t, encoder, ranks, b2u)} for t in CASES]
    with open("gpt2_golden.json", "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=True, indent=1)
        f.write("\n")

    text = open("train_sample.txt", encoding="utf-8").read()
    merges = naive_train(text, 300)
    out = {
        "vocab_size": 256 + 300,
        "merges": merges,
        "encodings": [{"text": t, "ids": naive_encode(t, merges)} for t in BPE_CASES],
    }
    with open("bpe_golden.json", "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True)
        f.write("\n")


if __name__ == "__main__":
    main()
