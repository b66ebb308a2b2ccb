"""A 2-state CategoricalHMM over the letters of a public-domain text: with
no labels, Baum-Welch separates vowels from consonants (the classic
experiment of Cave & Neuwirth, 1980).

Run ``python -m gmscore.examples.text_hmm``. The text (gmscore/data/
public_domain.txt: the opening of the US Declaration of Independence and
the Gettysburg Address, both in the public domain) is lower-cased, every
run of non-letters becomes one space, and each paragraph is one sequence.
"""
import re
from importlib import resources

import numpy as np

ALPHABET = " abcdefghijklmnopqrstuvwxyz"
VOWELS = "aeiou"


def load_text():
    """The paragraphs of the shipped text, normalised (see the module
    docstring)."""
    raw = resources.files("gmscore.data").joinpath("public_domain.txt").read_text("utf-8")
    body = "\n".join(line for line in raw.splitlines() if not line.startswith("#"))
    paragraphs = [re.sub(r"[^a-z]+", " ", p.lower()).strip() for p in body.split("\n\n")]
    return [p for p in paragraphs if p]


def encode(paragraphs):
    """(X of shape (n_chars, 1) with symbol indices into ALPHABET, lengths)."""
    text = "".join(paragraphs)
    X = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64)
    lookup = np.zeros(256, dtype=np.int64)
    lookup[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(len(ALPHABET))
    return lookup[X][:, None], [len(p) for p in paragraphs]


def main(n_iter=100, show=True, random_state=0):
    """Fit the model, decode the text, and (``show``) print the emission
    table and the first lines with their decoded states. Returns a dict
    with the text, alphabet, emissionprob, vowel_state and decoded states."""
    from gmscore import CategoricalHMM

    paragraphs = load_text()
    X, lengths = encode(paragraphs)
    model = CategoricalHMM(2, n_features=len(ALPHABET), n_iter=n_iter, tol=1e-6, n_init=5,
                           random_state=random_state).fit(X, lengths)
    states = model.predict(X, lengths)
    vowel_idx = [ALPHABET.index(v) for v in VOWELS]
    vowel_state = int(np.argmax(model.emissionprob_[:, vowel_idx].sum(axis=1)))
    text = "".join(paragraphs)
    if show:
        print("symbol  P(.|state 0)  P(.|state 1)")
        for j, ch in enumerate(ALPHABET):
            print(f"  {ch!r}    {model.emissionprob_[0, j]:10.3f}  {model.emissionprob_[1, j]:10.3f}")
        print(f"\nstate {vowel_state} holds the vowels; decoded "
              f"('V' = state {vowel_state}, '.' = the other):")
        marks = "".join("V" if s == vowel_state else "." for s in states)
        for start in range(0, 216, 72):
            print(text[start:start + 72])
            print(marks[start:start + 72])
    return {"text": text, "alphabet": ALPHABET, "emissionprob": model.emissionprob_,
            "vowel_state": vowel_state, "decoded": states}


if __name__ == "__main__":
    main()
