"""Heuristic quality rules (gopher, c4, fineweb, refinedweb lines) on real and built text."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pyarrow as pa
import pytest

from conftest import stdlib_docs
from gristmill.annotate.heuristics import count_sentences, split_words
from gristmill.annotate.heuristics import backend, batch, c4, chars, gopher, native, spacy_rules, tokenizer, words
from gristmill.step import get_step

STEPS = ["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality", "refinedweb_lines"]


def table(texts):
    return pa.table({"id": [str(i) for i in range(len(texts))], "text": texts, "source": ["t"] * len(texts)})


def run(name, texts, **cfg):
    step = get_step(name)(get_step(name).Config(**cfg))
    t = step.annotate(table(texts))
    return t, step.select(t).to_pylist()


def prose() -> str:
    """A clean, real document: stdlib docstrings joined as paragraphs, one sentence per line."""
    docs = [d["text"] for d in stdlib_docs(40)]
    paras = []
    for d in docs:
        text = " ".join(d.split())
        if "{" in text or ">>>" in text:
            continue
        paras.append(text)
        if sum(len(p.split()) for p in paras) > 400:
            break
    return "\n\n".join(paras)


CLEAN = (
    "The committee met on Tuesday to discuss the budget for the coming year. Members agreed that the "
    "library should extend its opening hours, and that the reading room needs new lights.\n"
    "After a long debate, the treasurer presented a plan to pay for the changes with savings from the "
    "heating contract. She noted that the costs of energy have fallen since the spring.\n"
    "Several residents asked whether the children's section would also be renovated. The chair replied "
    "that this will be decided at the next meeting, once the architects have sent their estimates.\n"
    "The meeting ended with a vote of thanks to the volunteers who have run the book sale for ten years."
)
MORE = (
    "In the second part of the evening, a local historian gave a talk about the old mill by the river.\n"
    "He explained how the wheel turned grain into flour for three villages, and why it closed in 1921.\n"
    "Many of those present had family stories about the mill, which they shared with the audience.\n"
    "The society hopes to publish these memories in a small book with photographs from the archive."
)


def test_words_follow_spacy_english_rules():
    assert split_words("Hello, world. It's a well-known fact: don't stop!") == [
        "Hello", ",", "world", ".", "It", "'s", "a", "well", "-", "known", "fact", ":", "do", "n't", "stop", "!"]
    assert split_words("Mr. Smith paid $3.14 in the U.S. at 5 p.m.") == [
        "Mr.", "Smith", "paid", "$", "3.14", "in", "the", "U.S.", "at", "5", "p.m."]
    assert split_words("I cannot wait... see https://example.com/a?b=1.") == [
        "I", "can", "not", "wait", "...", "see", "https://example.com/a?b=1", "."]
    assert split_words("") == []


def test_words_keep_punctuation_inside_code_chunks_like_spacy():
    # spaCy strips prefixes/suffixes only at the ends of a whitespace chunk and splits inside it
    # only at its infix rules; "(" "_" and "*" inside a chunk are none of those, so code stays
    # glued. "o)¶": "¶" is not a suffix, so ")" is not at the end and nothing is split off.
    assert split_words("PyBytes_Check(PyObject *o)¶") == ["PyBytes_Check(PyObject", "*", "o)¶"]
    # "f(x):" -> suffix ":" then ")" ... but "):" is an emoticon exception, which spaCy's second
    # pass (_apply_special_cases) merges back into one token.
    assert split_words("def f(x): return {'a': x}") == [
        "def", "f(x", "):", "return", "{", "'", "a", "'", ":", "x", "}"]
    # ":class:`str`": prefix ":", then suffix "`"; the ":" between letters is an infix only
    # before a letter, and "`" is not a letter. "(i.e.,)": "i.e." is an exception.
    assert split_words("See :class:`str` (i.e., text).") == [
        "See", ":", "class:`str", "`", "(", "i.e.", ",", "text", ")", "."]
    # Letter-dot-letter is no infix for lower case ("a.b.c"); hyphen between letters is; a unit
    # after a digit is a suffix ("10km"); "$" is a prefix; quotes are prefixes and suffixes.
    assert split_words('a.b.c x-ray 10km $3.14 "quoted," (e.g. this)') == [
        "a.b.c", "x", "-", "ray", "10", "km", "$", "3.14", '"', "quoted", ",", '"', "(", "e.g.", "this", ")"]
    # A URL is kept whole once its trailing punctuation is stripped; "don't" is an exception.
    assert split_words("https://docs.python.org/3/library/os.html, don't!") == [
        "https://docs.python.org/3/library/os.html", ",", "do", "n't", "!"]
    # "!" and "—" inside a chunk: "—" is a suffix only at the end, "!" likewise.
    assert split_words("weaver!—pause!—one") == ["weaver!—pause!—one"]


def test_word_shortcuts_give_the_full_loops_tokens():
    # split_words skips spaCy's affix loop for plain words and word+punctuation; the shortcut
    # must never change the result.
    chunks = ["word", "word,", "word.", "Word.", "USA.", "Mr.", "dont", "dont.", "cannot,", "e.g.,",
              "it's", "self)", "x;", 'said"', "etc.", "Ph.D.", "naïve.", "Über,", "i.", "A.", "em,"]
    for ch in chunks:
        assert tokenizer._tokenize_chunk(ch) == tokenizer._spacy_chunk(ch), ch


def test_tokenizer_rules_equal_installed_spacy():
    # The affix patterns and exceptions are data copied from spaCy; check they are still exactly
    # its English rules, and that whole texts tokenize the same. spaCy is in the `test` extra
    # (pyproject.toml), so `make test` runs this instead of skipping it.
    import spacy
    tok = spacy.blank("en").tokenizer
    assert spacy_rules._SP_PREFIX_RE.pattern == tok.prefix_search.__self__.pattern
    assert spacy_rules._SP_SUFFIX_RE.pattern == tok.suffix_search.__self__.pattern
    assert spacy_rules._SP_INFIX_RE.pattern == tok.infix_finditer.__self__.pattern
    assert spacy_rules._SP_URL_RE.pattern == tok.url_match.__self__.pattern
    rules = {k: tuple(d[65] for d in v) for k, v in tok.rules.items() if not k.isspace()}  # 65 = ORTH
    assert rules == spacy_rules._SPECIALS
    texts = [d["text"] for d in stdlib_docs(100)]  # docstrings: prose mixed with code
    texts.append("Mr. O'Neil's e-mail (bob@x.org) said: \"don't!!!\" -- 3.5kg, 10a.m.; :-) ok?")
    for t in texts:
        want = [x.text.strip() for x in tok(t) if x.text.strip()]
        assert split_words(t) == want


def test_spacy_parity_test_cannot_be_skipped_by_make_test():
    # `make test` installs the `test` extra; the parity test above imports spaCy unconditionally,
    # so spaCy must be declared there (it was only in `bench`, and the test skipped).
    import tomllib
    from pathlib import Path
    meta = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    extra = meta["project"]["optional-dependencies"]["test"]
    assert any(r.split(">")[0].split("=")[0].split("[")[0].strip() == "spacy" for r in extra), extra


def test_sentences_counted_like_the_sentencizer():
    assert count_sentences("One. Two! Three?\nFour is here.") == 4
    assert count_sentences('He said "stop." Then he left.') == 2
    assert count_sentences("Mr. Smith arrived.") == 1
    assert count_sentences("") == 0


def test_clean_documents_pass_every_rule():
    texts = [CLEAN + "\n" + MORE, prose()]
    for name in ["gopher_quality", "c4_quality", "fineweb_quality", "refinedweb_lines"]:
        _, reasons = run(name, texts[:1])
        assert reasons == [None], (name, reasons)
    # Real stdlib prose: its paragraphs are distinct, so no repetition rule fires.
    assert run("gopher_repetition", texts[1:])[1] == [None]


def test_gopher_quality_values_by_hand():
    text = "The cat and the dog sat with me.\n- one ...\n- two #x"
    t, _ = run("gopher_quality", [text])
    row = t.to_pylist()[0]
    # tokens: The cat and the dog sat with me . - one ... - two # x  -> 16 tokens
    words = ["The", "cat", "and", "the", "dog", "sat", "with", "me", "one", "two", "x"]
    assert row["gopher_word_count"] == len(words)
    assert row["gopher_mean_word_length"] == pytest.approx(sum(map(len, words)) / len(words))
    assert row["gopher_hash_ratio"] == pytest.approx(1 / 16)
    assert row["gopher_ellipsis_ratio"] == pytest.approx(1 / 16)
    assert row["gopher_bullet_lines_ratio"] == pytest.approx(2 / 3)
    assert row["gopher_ellipsis_lines_ratio"] == pytest.approx(1 / 3)
    assert row["gopher_alpha_words_ratio"] == pytest.approx(11 / 16)
    assert row["gopher_stop_words"] == 3  # the, and, with ("The" is not "the")


@pytest.mark.parametrize("text,rule", [
    ("word " * 20, "too_few_words"),
    ("supercalifragilistic antidisestablishmentarianism " * 40 + "the and", "long_mean_word_length"),
    ("the people of the house and the garden with flowers " * 10 + "#tag " * 20, "too_many_hashes"),
    ("\n".join(f"- the item number {i} and more words here" for i in range(30)), "too_many_bullet_lines"),
    ("\n".join(f"the story of this chapter number {i} continues..." for i in range(30)), "too_many_ellipses"),
    ("12345 67890 13579 24680 " * 30 + "the people and the houses of the town", "too_few_alpha_words"),
    ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do " * 10, "too_few_stop_words"),
])
def test_gopher_quality_rules_fire(text, rule):
    assert run("gopher_quality", [text])[1] == [rule]


def test_gopher_repetition_values_by_hand():
    text = "a b c\n\na b c\n\nx y"
    t, reasons = run("gopher_repetition", [text])
    row = t.to_pylist()[0]
    assert row["gopher_dup_para_frac"] == pytest.approx(1 / 3)
    assert row["gopher_dup_para_char_frac"] == pytest.approx(5 / len(text))
    assert row["gopher_dup_line_frac"] == pytest.approx(1 / 3)
    # top 2-gram "a b" twice: 2 * 3 characters; top 3-gram "a b c" twice: 2 * 5
    assert row["gopher_top_2gram_char_frac"] == pytest.approx(6 / len(text))
    assert row["gopher_top_3gram_char_frac"] == pytest.approx(10 / len(text))
    # 5-grams over a b c a b c x y: "abcab" "bcabc" "cabcx" "abcxy": no repeats
    assert row["gopher_dup_5gram_char_frac"] == 0
    assert reasons == ["dup_para_frac"]


def test_gopher_repetition_dup_ngrams_skip_like_datatrove():
    # 12 words: w0..w5 repeated twice. With n=5 the walk finds "w0..w4" again at 6, jumps to 11.
    words = [f"w{i}" for i in range(6)] * 2
    t, _ = run("gopher_repetition", [" ".join(words)])
    text_len = len(" ".join(words))
    assert t["gopher_dup_5gram_char_frac"][0].as_py() == pytest.approx(len("w0w1w2w3w4") / text_len)
    assert t["gopher_dup_6gram_char_frac"][0].as_py() == pytest.approx(len("w0w1w2w3w4w5") / text_len)


def test_gopher_repetition_rules_fire_and_pass():
    para = prose().split("\n\n")[0]
    _, r = run("gopher_repetition", [prose(), "\n\n".join([para] * 4), "", "spam " * 200])
    assert r[0] is None
    assert r[1] == "dup_para_frac"
    assert r[2] == "empty"
    assert r[3] is not None and r[3].startswith(("dup_", "top_"))


def test_c4_quality_lines_and_pages():
    good = "\n".join(["This sentence ends well. And another one follows here."] * 3)
    menu = "Home\nAbout us\nPlease enable JavaScript to continue.\nWe use cookies, see our privacy policy."
    t, r = run("c4_quality", [menu + "\n" + good, good + "\nlorem ipsum dolor sit amet.", good + "\nThe set {a, b} is small and finite.",
                              "Only one sentence here."])
    assert r == [None, "lorem_ipsum", "curly_bracket", "too_few_sentences"]
    assert t["c4_sentences"].to_pylist()[0] == 6
    assert t["c4_lines_removed"].to_pylist()[0] == 4
    assert t["text"][0].as_py() == good  # kept documents are rewritten to their surviving lines
    assert t["text"][3].as_py() == "Only one sentence here."  # rejected ones keep their text


def test_c4_terminal_punct_switch():
    text = "\n".join(["the first line has no final mark", "the second line has none either",
                      "a third line without one", "a fourth line like that", "and a fifth line"])
    assert run("c4_quality", [text])[1] == ["too_few_sentences"]
    assert run("c4_quality", [text], filter_no_terminal_punct=False)[1] == [None]


def test_fineweb_quality_values_and_rules():
    text = "A line that ends with a full stop.\nshort\n\nA line that ends with a full stop.\n"
    t, r = run("fineweb_quality", [text])
    row = t.to_pylist()[0]
    assert row["fineweb_lines"] == 3
    assert row["fineweb_line_punct_ratio"] == pytest.approx(2 / 3)
    assert row["fineweb_short_line_ratio"] == pytest.approx(1 / 3)
    assert row["fineweb_char_dup_ratio"] == pytest.approx(34 / (len(text) - 4))
    assert r == ["char_dup_ratio"]
    lst = "\n".join(f"item {i}" for i in range(40))
    no_punct = " ".join(["words without any final mark"] * 20)
    assert run("fineweb_quality", [lst, no_punct, "  \n "])[1] == ["line_punct_ratio", "line_punct_ratio", "empty"]
    assert run("fineweb_quality", [CLEAN])[1] == [None]


def test_fineweb_list_ratio():
    text = "\n".join(f"Point number {i} is made here, and it is a good one." for i in range(30))
    t, r = run("fineweb_quality", [text])
    assert r == [None]
    assert t["fineweb_list_ratio"][0].as_py() == pytest.approx(29 / (30 * 14))  # 12 words + ',' + '.'
    assert run("fineweb_quality", [text], new_line_ratio=0.05)[1] == ["list_ratio"]


def test_refinedweb_lines_removes_and_drops():
    body = CLEAN + "\n" + MORE + "\n" + CLEAN.replace("committee", "council")
    noisy = "SHARE THIS STORY\n3 likes\n1.2K views\n2019\nHome | News | Sport | Weather\n" + body
    t, r = run("refinedweb_lines", [noisy, body, "Home\n" * 3 + "word " * 10])
    assert t["refinedweb_lines_removed"].to_pylist()[:2] == [5, 0]
    assert t["text"][0].as_py() == body
    n_words = len(body.split())
    removed = t["refinedweb_words_removed"][0].as_py()
    assert removed == 3 + 2 + 2 + 1 + 4
    assert t["refinedweb_words_removed_ratio"][0].as_py() == pytest.approx(removed / (removed + n_words))
    assert r[:2] == [None, None]
    assert r[2] == "too_many_words_removed"


def test_empty_table_and_types():
    empty = table([]).cast(pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string())]))
    for name in STEPS:
        step = get_step(name)()
        t = step.annotate(empty)
        assert len(t) == 0 and len(step.select(t)) == 0
        for f in t.schema:
            if f.name == "text":  # a rewritten text is the readers' type (gristmill.arrow.TEXT_TYPE)
                assert f.type in (pa.string(), pa.large_string()), (name, f)
                continue
            assert f.type in (pa.string(), pa.int32(), pa.float64(), pa.bool_()), (name, f)


def test_select_uses_only_stored_columns_and_pickles():
    texts = [CLEAN, "word " * 20]
    step = get_step("gopher_quality")()
    annotated = step.annotate(table(texts))
    strict = get_step("gopher_quality")(get_step("gopher_quality").Config(min_doc_words=10_000))
    assert strict.select(annotated).to_pylist() == ["too_few_words", "too_few_words"]
    clone = pickle.loads(pickle.dumps(step))
    assert clone.select(annotated).to_pylist() == step.select(annotated).to_pylist()
    with pytest.raises(ValueError, match="gopher_word_count"):
        step.select(table(texts))


def test_results_do_not_depend_on_batching():
    texts = [d["text"] for d in stdlib_docs(60)]
    for name in ["gopher_quality", "gopher_repetition", "fineweb_quality"]:
        whole, _ = run(name, texts)
        parts = [run(name, texts[i:i + 7])[0] for i in range(0, len(texts), 7)]
        cols = [c for c in whole.column_names if c not in ("id", "text", "source")]
        for c in cols:
            a = np.array(whole[c].to_pylist(), dtype=float)
            b = np.array([v for p in parts for v in p[c].to_pylist()], dtype=float)
            np.testing.assert_array_equal(a, b, err_msg=f"{name}.{c}")


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="'text'"):
        get_step("gopher_quality")().annotate(pa.table({"id": ["a"]}))
    with pytest.raises(ValueError, match="n-gram size"):
        get_step("gopher_repetition")(get_step("gopher_repetition").Config(dup_n_grams={0: 0.1}))


# --- the vectorised internals against the straightforward computations, on real text --------


def _real_texts(n=120):
    # stdlib docstrings plus those with their lines doubled: prose, code and exact repeats.
    docs = [d["text"] for d in stdlib_docs(n)]
    return docs + ["\n".join(ln for ln in d.split("\n") for _ in range(2)) for d in docs[:30]]


def test_vocab_ids_spell_split_words_and_carry_token_facts():
    import unicodedata

    texts = _real_texts()
    w = words._words_for(table(texts).column("text"))
    inv = {i: t for t, i in w.vocab.ids.items()}
    got = [inv[i] for i in w.ids.tolist()]
    assert got == [t for d in texts for t in split_words(d)]
    assert w.counts.tolist() == [len(split_words(d)) for d in texts]
    for t, i in w.vocab.ids.items():
        assert w.vocab.length[i] == len(t)
        assert w.vocab.nonsym[i] == any(c not in chars._PUNCT_SET for c in t)
        assert w.vocab.alpha[i] == any(c.isalpha() for c in t)
        assert w.vocab.punct[i] == all(unicodedata.category(c).startswith("P") for c in t)
        assert w.vocab.end[i] == (t in chars._SENT_END)


def test_cleared_caches_give_the_same_ids_layout():
    texts = _real_texts(30)
    a = words._words_for(table(texts).column("text"))
    inv_a = {i: t for t, i in a.vocab.ids.items()}
    words._clear_caches()
    b = words._words_for(table(texts).column("text"))
    inv_b = {i: t for t, i in b.vocab.ids.items()}
    assert [inv_a[i] for i in a.ids.tolist()] == [inv_b[i] for i in b.ids.tolist()]


def test_first_appearance_ids_hash_equals_sort():
    w = words._words_for(table(_real_texts()).column("text"))
    for k, hs in gopher._ngram_hashes(w.ids.astype(np.uint64), 6):
        doc = w.doc[:len(hs)]
        key = hs ^ doc.astype(np.uint64)
        np.testing.assert_array_equal(batch._first_appearance_ids(key), batch._first_appearance_ids_sorted(key))


def _find_all_duplicate(words, n):
    # DataTrove's GopherRepetitionFilter.find_all_duplicate, verbatim in substance.
    unique, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        g = tuple(words[idx:idx + n])
        if g in unique:
            repeated += len("".join(g))
            idx += n
        else:
            unique.add(g)
            idx += 1
    return repeated


def test_dup_ngram_walk_equals_datatrove_loop_on_real_text():
    texts = _real_texts()
    t, _ = run("gopher_repetition", texts)
    chars = [len(d) for d in texts]
    for n in range(5, 11):
        got = t[f"gopher_dup_{n}gram_char_frac"].to_pylist()
        for d, g, c in zip(texts, got, chars):
            want = _find_all_duplicate(split_words(d), n) / c if c else None
            assert g == pytest.approx(want) if want is not None else g != g or g is None


def test_ascii_alnum_residue_has_no_infix():
    # _spacy_affixes keeps an ASCII-alphanumeric residue whole without running the infix regex:
    # every infix alternative consumes a character outside [A-Za-z0-9], whatever surrounds it.
    import string

    alnum = string.ascii_letters + string.digits
    assert not any(spacy_rules._SP_INFIX_RE.search(x + c + y) for x in alnum for c in alnum for y in "aZ0")
    for d in stdlib_docs(80):
        for ch in d["text"].split():
            if ch.isascii() and ch.isalnum():
                assert not spacy_rules._SP_INFIX_RE.search(ch)


@pytest.mark.parametrize("path", ["default", "pure_python"])
def test_batch_doc_ids_equal_per_document_split(path):
    # The batch split (Arrow's whitespace split, or the compiled loop on str.isspace) must give
    # str.split()'s chunks, edges included.
    import contextlib

    texts = _real_texts(60) + ["", "   ", "\x1c a\u3000b\x85c\u2028 ", " lead", "trail\t\n", "x\xa0y", "one"]
    with backend.pure_python() if path == "pure_python" else contextlib.nullcontext():
        vocab = words._vocab()
        got = words._batch_doc_ids(texts, vocab)
        assert len(got) == len(texts)
        for t, ids in zip(texts, got):
            assert ids.tolist() == vocab.doc_ids(t).tolist(), repr(t[:40])


def test_arrow_whitespace_is_str_isspace():
    # _batch_doc_ids relies on pc.utf8_split_whitespace splitting exactly where str.split() does.
    import sys

    import pyarrow.compute as pc
    chars = [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i < 0xE000]
    parts = pc.list_value_length(pc.utf8_split_whitespace(pa.array(["a" + c + "b" for c in chars]))).to_numpy()
    assert [c for c, k in zip(chars, parts) if k == 2] == [c for c in chars if c.isspace()]


def test_line_batch_sentence_count_equals_the_per_line_loop():
    # c4_quality counts sentences from the kept lines as one Arrow batch; same as the loop.
    docs = [[ln.strip() for ln in d.split("\n")] for d in _real_texts()] + [[], [""], ["", ""], ["a. b", "", "c"]]
    lines = pa.array([ln for d in docs for ln in d], pa.string())
    line_doc = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    joined = ["\n".join(d) for d in docs]
    got = c4._count_sentences_lines(lines, line_doc, joined)
    assert got.tolist() == [count_sentences(s) for s in joined]


def test_c4_word_count_by_split_equals_regex_count():
    import pyarrow.compute as pc

    lines = [ln.strip() for d in _real_texts(60) for ln in d.split("\n")] + ["", "a", "a\u3000b\x85c"]
    arr = pa.array(lines)
    by_split = (pc.list_value_length(pc.utf8_split_whitespace(arr)).to_numpy()
                - (pc.utf8_length(arr).to_numpy() == 0))
    assert by_split.tolist() == pc.count_substring_regex(arr, chars._NONWS_CLASS + "+").to_pylist()
    assert by_split.tolist() == [len(ln.split()) for ln in lines]


def test_first_occurrence_hash_equals_sort_on_real_lines():
    import pyarrow.compute as pc

    texts = _real_texts()
    pieces, counts = batch._split(table(texts).column("text"), r"\n+")
    ids = pc.dictionary_encode(pieces).indices.to_numpy().astype(np.int64)
    doc = np.repeat(np.arange(len(counts)), counts)
    np.testing.assert_array_equal(batch._first_occurrence(doc, ids), batch._first_occurrence_sorted(doc, ids))


def test_merge_prefilter_keeps_the_tokens():
    # _spacy_chunk skips _merge_specials when no exception's text occurs in the chunk; sound
    # because tokens spell their chunk (checked here) and exceptions spell their keys.
    assert all("".join(v) == k for k, v in spacy_rules._SPECIALS.items())
    chunks = {ch for d in _real_texts(80) for ch in d.split()} | {":-)", "(e.g.", "i.e.,", "10a.m.", "x):"}
    for ch in chunks:
        if ch in spacy_rules._SPECIALS:
            continue
        toks = tokenizer._spacy_affixes(ch, spacy_rules._SPECIALS)
        assert "".join(toks) == ch
        full = tokenizer._merge_specials(toks) if len(toks) > 1 and not tokenizer._SP_MATCH_FIRST.isdisjoint(toks) else toks
        assert tokenizer._spacy_chunk(ch) == full, ch


def test_affix_char_set_skips_match_full_loop(monkeypatch):
    """The affix loop skips a prefix/suffix/infix regex when the chunk has no character that could
    start/end/be consumed by a match; the tokens equal those of the loop running every regex."""
    assert None not in (spacy_rules._SP_PREFIX_FIRST, spacy_rules._SP_SUFFIX_LAST, spacy_rules._SP_SUFFIX_LAST_DIGIT, spacy_rules._SP_INFIX_CHARS)
    chunks = ["foo_bar()", "a.b.c()", "5km", "5km/h", "km", "10$", "$10", "US$5", "3+", "°F.", "AB.", "a..",
              "x...", "...", "''", "1-2", "a-b", "℃", "5℃", "(hello)", "'s", "it's", "don't.", "e.g.,",
              "http://x.org/a,b", "a,b", "x=y", "a/b", "f(x):", "«quote»", "snake_case_name,", "5m.", "m.",
              "CamelCase)", "ab'", "'ab'", "--", "a--b", "2^3", "x~y", "§5", "=)", ":-)", "v1.2.3", "C++"]
    fast = [tokenizer._spacy_affixes(c, spacy_rules._SPECIALS) for c in chunks]
    monkeypatch.setattr(tokenizer, "_SP_AFFIX_SETS", (spacy_rules._ALL_CHARS, spacy_rules._ALL_CHARS, frozenset(), spacy_rules._ALL_CHARS))
    assert fast == [tokenizer._spacy_affixes(c, spacy_rules._SPECIALS) for c in chunks]
    # Sets are necessary conditions: no single character outside them starts/ends/forms a match.
    for cp in range(0x3000):
        c = chr(cp)
        if spacy_rules._SP_PREFIX_RE.match(c + "x"):
            assert c in spacy_rules._SP_PREFIX_FIRST
        if spacy_rules._SP_SUFFIX_RE.search("x" + c):
            assert c in spacy_rules._SP_SUFFIX_LAST
        if spacy_rules._SP_SUFFIX_RE.search("1" + c):
            assert c in spacy_rules._SP_SUFFIX_LAST or c in spacy_rules._SP_SUFFIX_LAST_DIGIT
        if spacy_rules._SP_INFIX_RE.search("a" + c + "a") or spacy_rules._SP_INFIX_RE.search("1" + c + "1"):
            assert c in spacy_rules._SP_INFIX_CHARS


# --- the compiled kernels (gristmill._native) against the pure-Python paths -------------------

def _native():
    if backend.BACKEND.tokenizer is None and os.environ.get("GRISTMILL_REQUIRE_NATIVE") != "1":
        pytest.skip("gristmill._native is not built here; the pure-Python paths are in use")
    assert backend.BACKEND.tokenizer is not None, "GRISTMILL_REQUIRE_NATIVE=1 but gristmill._native did not build or load"


def _fuzz_chunks(n: int, seed: int = 0) -> list[str]:
    # Strings over the characters the affix and infix rules care about: letters of both cases,
    # digits, every ASCII punctuation mark, quotes, dashes, ellipses, degree signs, currency and
    # units, icons, accented and non-Latin letters; short and long.
    import random
    import string
    pieces = (list(string.ascii_letters[:8]) + ["A", "U", "S", "e", "g", "i", "m", "k"] + list("0123456789")
              + list(string.punctuation) + list("“”‘’«»—–…°¶©€£$₹") + ["km", "US$", "C$", "'s", "n't", "...",
              "http://", "www.", ".com", "e.g.", "i.e.", ":)", "(:", "a.m.", "Mr.", "Ph.D.", "don't", "ö", "ß", "Я",
              "中", "👍", "—", "--", "²", "°F", "10", "cannot", "gonna"])
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.choice([1, 2, 3, 4, 6, 9, 14]))) for _ in range(n)]


def test_native_tokenizer_equals_the_python_loop():
    # The compiled affix matcher is built from the same regexes; on real chunks and on 60,000
    # random strings over the characters the rules care about, its tokens must be the loop's.
    _native()
    real = {ch for d in _real_texts() for ch in d.split()}
    fuzz = _fuzz_chunks(60_000)
    for ch in sorted(real) + fuzz:
        assert backend.BACKEND.tokenizer.tokenize(ch) == tokenizer._spacy_chunk(ch), ch
    # split_words and the vocabulary go through it.
    assert backend.BACKEND.tokenize == backend.BACKEND.tokenizer.tokenize


def test_native_tokenizer_on_every_character_the_rules_name():
    # Every code point that any prefix, suffix or infix class (look-arounds included) contains, at
    # the start, the end, before a dot, inside a word and after a digit: the class lookups (ASCII
    # bitmaps, merged non-ASCII ranges) must agree with Python's re on each of them.
    from re import _constants as C
    _native()
    chars: set[int] = set()
    for rx, anchor in ((spacy_rules._SP_PREFIX_RE, C.AT_BEGINNING), (spacy_rules._SP_SUFFIX_RE, C.AT_END), (spacy_rules._SP_INFIX_RE, None)):
        for lb, body, _, la in native._flat_alternatives(rx.pattern, anchor):
            for ranges in [*lb, *body, *([la[0]] if la else [])]:
                for a, b in ranges:
                    chars.update(range(a, b + 1))
    assert len(chars) > 100_000
    bad = [t for c in sorted(chars) for ch in [chr(c)]
           for t in (f"{ch}a", f"a{ch}", f"{ch}.", f"a{ch}b", f"1{ch}") if backend.BACKEND.tokenizer.tokenize(t) != tokenizer._spacy_chunk(t)]
    assert not bad, bad[:10]


def test_native_matcher_refuses_what_it_cannot_run():
    # A regex construct outside the matcher's shape (flags, bounded repeats, negated or category
    # classes, multi-character look-aheads) raises, so the Python loop is used instead of an
    # approximation.
    from re import _constants as C

    for bad in [r"^(?i:a)", r"^a{2,3}", r"^[^a]", r"^\w", r"^a(?=bc)"]:
        with pytest.raises(ValueError):
            native._flat_alternatives(bad, C.AT_BEGINNING)
    alts = native._flat_alternatives(spacy_rules._SP_SUFFIX_RE.pattern, C.AT_END)
    # spaCy's English suffix regex: every list entry, each unit and currency after a digit.
    assert len(alts) > 200 and any(rep for _, _, rep, _ in alts)


def test_native_ngram_measures_equal_numpy():
    _native()
    texts = _real_texts() + ["a b c d e " * 40, "", "one", "x y x y x y x y"]
    w = words._words_for(table(texts).column("text"))
    chars = np.array([len(t) for t in texts])
    top, dup = {1, 2, 3, 4}, {2, 5, 6, 7, 8, 9, 10, 13}
    a = gopher._ngram_measures(w, chars, top, dup)
    b = gopher._ngram_measures_numpy(w, chars, top, dup)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_steps_give_the_same_tables_with_and_without_native_kernels():
    _native()
    texts = _real_texts() + ["a b c d e " * 40, "", "Lorem ipsum {x}.\n" * 6]
    outs = []
    for ctx in (backend.pure_python, lambda: __import__("contextlib").nullcontext()):
        with ctx():
            assert (backend.BACKEND.kernels is None) == (ctx is backend.pure_python)
            got = {}
            for name in STEPS:
                t, reasons = run(name, texts)
                got[name] = (t.to_pydict(), reasons)
            outs.append(got)
    for name in STEPS:
        a, b = outs[0][name], outs[1][name]
        assert a[1] == b[1], name
        for col in a[0]:
            assert a[0][col] == b[0][col] or all(x == y or (x != x and y != y) for x, y in zip(a[0][col], b[0][col])), (name, col)


def test_native_chunk_index_equals_the_dict_lookup():
    # piece_ids finds a chunk seen before by a hash of its code points in ChunkIndex (no str made):
    # the same chunk inside ASCII, Latin-1, UCS-2 and UCS-4 texts must hit the same entry, and the
    # table must stay exact past its growth points (65,536 slots, 32,768 entries).
    _native()
    words_ = [f"w{i}x" for i in range(40_000)] + [f"{i}," for i in range(30_000)]
    texts = [" ".join(words_[i:i + 500]) for i in range(0, len(words_), 500)]
    texts += [t + " caf\u00e9" for t in texts[:20]] + [t + " \u4e2d\u6587." for t in texts[20:40]]
    texts += [t + " \U0001F44D!" for t in texts[40:60]] + ["the the the", "\u00e9 the \u4e2d \U0001F44D the."]
    words._clear_caches()
    vocab = words._vocab()
    first = words._batch_doc_ids(texts, vocab)
    again = words._batch_doc_ids(texts[::-1], vocab)[::-1]  # every chunk now found in the index
    assert len(vocab.index) == len(vocab.chunk_ids) > 70_000
    for t, a, b in zip(texts, first, again):
        want = vocab.doc_ids(t).tolist()
        assert a.tolist() == want and b.tolist() == want, t[:60]


def test_c4_sentences_from_cached_document_tokens_equal_splitting_the_lines():
    # c4_quality takes its kept lines' tokens from the ids gopher steps cached for the document
    # (re-splitting only lines a citation was cut from); it must count exactly what splitting the
    # kept lines again counts, with and without a warm cache, citations and odd line breaks included.
    texts = [d.replace(". ", ". [1] ", 2).replace("\n", "\r\n", 3) for d in _real_texts(60)]
    texts += ["A line.\u2028Another line here, with words.\x0bThird [edit] line ends. Yes [citation needed].\n\n",
              "", "\n", "one [2]\r\ntwo.\r\n"]
    tbl = table(texts)
    words._clear_caches()
    cold = get_step("c4_quality")().annotate(tbl)
    words._clear_caches()
    get_step("gopher_quality")().annotate(tbl)  # fills the token cache the way a chain does
    warm = get_step("c4_quality")().annotate(tbl)
    assert cold.column("c4_sentences").to_pylist() == warm.column("c4_sentences").to_pylist()
    assert cold.column("text").to_pylist() == warm.column("text").to_pylist()
    # and both equal the sentencizer loop on each rewritten document (its kept lines)
    step = get_step("c4_quality")(get_step("c4_quality").Config(min_num_sentences=0, filter_curly_bracket=False,
                                                                 filter_lorem_ipsum=False))
    out = step.annotate(tbl)
    for new, n in zip(out.column("text").to_pylist(), out.column("c4_sentences").to_pylist()):
        assert n == count_sentences(new), new[:80]
