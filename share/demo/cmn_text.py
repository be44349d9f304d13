"""Mandarin sentences for the demo corpus (share/demo/make_corpus.py --lang cmn).

Text: the Debian fortunes-zh databases (/usr/share/games/fortunes/{chinese,song100,tang300}:
sayings, classical prose, Tang and Song poems; UTF-8 with ANSI colour escapes). Per entry: the
escape sequences are removed, title lines (《...》), author lines (作者：...) and attribution lines
(-- ..., —— ...) dropped, the remaining lines joined, and the text cut into sentences after
。！？；. A sentence is kept when, without its punctuation (，、：quotes and brackets), it is
4-20 characters, all CJK unified ideographs (U+4E00-U+9FFF: no Latin, digits or symbols, which
espeak-ng would read in another language). Its transcript is those characters (no spaces: the
alphabet has none); espeak-ng is given the sentence with its commas (pauses), quotes removed.
"""

import collections
import os
import re

ZH_FILES = ("chinese", "song100", "tang300")
MIN_CHARS, MAX_CHARS = 4, 20
VARIANTS = tuple(f"m{i}" for i in range(1, 8)) + tuple(f"f{i}" for i in range(1, 5))
# espeak-ng 1.51's cmn dictionary turns each character into its pinyin syllable with a tone
# number; the voice "cmn" then reads that Latin text as English ("bu four" for 不: 4,739 of
# fortunes-zh's 5,566 characters), "cmn-latn-pinyin" reads it as Mandarin pinyin (p'u51): every
# character as one Mandarin syllable with its tone.
VOICE = "cmn-latn-pinyin"
VOICES = tuple(f"{VOICE}+{v}" for v in VARIANTS)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
_SENTENCE_END = re.compile(r"(?<=[。！？；])")
_INNER_PUNCT = re.compile(r"[，、：“”‘’「」『』（）《》,\"']")
_QUOTES = re.compile(r"[“”‘’「」『』\"']")


def entry_sentences(entry):
    """Yields (transcript, spoken text) of the kept sentences of one fortune entry."""
    lines = []
    for line in _ANSI.sub("", entry).split("\n"):
        st = line.strip()
        if not st or st.startswith(("--", "——", "《")) or "作者" in st:
            continue
        lines.append(st)
    for s in _SENTENCE_END.split("".join(lines)):
        s = _QUOTES.sub("", s).strip()
        core = _INNER_PUNCT.sub("", s).rstrip("。！？；")
        if _HAN.match(core) and MIN_CHARS <= len(core) <= MAX_CHARS:
            yield core, s


def collect_sentences(root):
    """Returns ({transcript: spoken text}, files read, entries read), deduplicated."""
    files = [os.path.join(root, n) for n in ZH_FILES if os.path.isfile(os.path.join(root, n))]
    if not files:
        raise FileNotFoundError(f"no fortunes-zh databases ({', '.join(ZH_FILES)}) in {root}: "
                                "install the Debian package fortunes-zh (scripts/install-deps.sh)")
    kept, entries = {}, 0
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for entry in re.split(r"(?m)^%\s*$", text):
            entries += 1
            for core, spoken in entry_sentences(entry):
                kept.setdefault(core, spoken)
    return kept, len(files), entries


def limit_characters(pool, k):
    """Keeps the sentences whose characters are all among the k most frequent characters of the
    pool (ties broken by code point). Returns (kept pool, characters used)."""
    counts = collections.Counter(ch for t in pool for ch in t)
    vocab = set(sorted(counts, key=lambda ch: (-counts[ch], ch))[:k])
    return {t: sp for t, sp in pool.items() if set(t) <= vocab}, len(vocab)
