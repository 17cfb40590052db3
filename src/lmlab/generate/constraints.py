"""Constrained decoding that keeps a message's placeholders: a logits processor that rules out, step by step,
every continuation after which the translation could no longer be printf-compatible with its source.

In the spirit of lexically constrained decoding (Hokamp & Liu 2017; Post & Vilar 2018), but with a
small, exact constraint: the translation must hold the source's placeholders (lmlab.data.placeholders),
no others. Each step, for each row (every beam of every sentence):
- slots (runs trained with masking, `<phk>` reserved tokens): a slot the source does not have, or one
  already written, is forbidden; EOS is forbidden while a slot is missing;
- raw text (any run, and the only check for runs trained before masking): a token after which the text
  would hold a placeholder the source lacks, an extra copy of one, or (unnumbered printf) one out of the
  source's order is forbidden; EOS is forbidden while one is missing. Only the most likely tokens are
  checked (`top`), the rest of a risky kind (holding `%` or `{`, or continuing an open `%…`) are forbidden;
  for a c-format source, a stray % (one that starts no directive, which msgfmt refuses) is ruled out too;
- the budget: near the end every likely token is checked to leave room for what is missing; when the
  steps left are just enough, the one token that writes it next is forced, so the guarantee holds
  whatever `max_new_tokens` is (if it is at least that long).
The state of a row is read from its tokens each step (no state to reorder under beam search).
"""

from __future__ import annotations

import re
from collections import Counter

import torch

from lmlab.data.placeholders import PLACEHOLDER, Directive, kind, placeholders

_OPEN = re.compile(r"%(?:\d+\$?)?[-+#0']*(?:\d+|\*(?:\d+\$?)?)?(?:\.(?:\d+|\*(?:\d+\$?)?)?)?(?:hh?|ll?|[LqjzZt])?$"
                   r"|%\(\w*\)?[-+ #0\d.]*$|\{[\w:]*$")                 # the start of a directive, at the end
_CONTINUES = set("-+#0'0123456789.*$hlLqjzZt(diouxXeEfFgGaAcCsSpnm%)_:}" +
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _needed(phs: list[str]) -> list[str]:
    """The placeholders a translation must hold: every argument-taking one (not %%, not %m)."""
    return [p for p in phs if kind(p) not in ("percent", "noarg")]


def _valid(found: list[str], needed: list[str]) -> tuple[bool, list[str]]:
    """Whether placeholders `found` (in text order) can still grow into `needed`, and what is left to write.
    Unnumbered printf directives must come in the source's order; the others in any order."""
    ordered = [p for p in needed if kind(p) == "printf" and Directive.parse(p).pos is None]
    others = Counter(p for p in needed if p not in ordered)
    i = 0
    for p in found:
        if kind(p) in ("percent", "noarg"):
            continue
        if i < len(ordered) and p == ordered[i]:
            i += 1
        elif others[p] > 0:
            others[p] -= 1
        else:
            return False, []
    return True, ordered[i:] + list(others.elements())


class PlaceholderConstraint:
    """What the constraint needs of a target vocabulary, computed once: each token's text, which tokens are
    risky, the reserved slot ids. `bind(...)` gives the logits processor for one batch of sources."""

    def __init__(self, tokenizer, eos_id: int, slot_ids: list[int] = (), top: int = 64):
        self.tok, self.eos, self.slot_ids, self.top = tokenizer, eos_id, list(slot_ids), top
        self.text = [tokenizer.decode([i]) for i in range(tokenizer.vocab_size)]
        slots = set(self.slot_ids)
        self.risky = torch.tensor([("%" in t or "{" in t) and i not in slots for i, t in enumerate(self.text)])
        self.continues = torch.tensor([bool(t) and t[0] in _CONTINUES for t in self.text])
        self._spell: dict[str, list[int]] = {}

    def spell(self, s: str) -> list[int]:
        if s not in self._spell:
            self._spell[s] = self.tok.encode(s)
        return self._spell[s]

    def bind(self, needed_raw: list[list[str]], max_new_tokens: int, num_beams: int = 1,
             needed_slots: list[list[int]] | None = None, strict: list[bool] | None = None, prefix: int = 1):
        """The processor (input_ids (N, T), logits (N, V)) -> logits for N = len(needed_raw) * num_beams rows,
        beams of a source together: source b needs placeholders needed_raw[b] as text and the slot ids
        needed_slots[b]; strict[b]: the source is c-format, so a stray % (one that starts no directive) is
        ruled out too; the first `prefix` tokens of a row are not generated (BOS)."""
        raw = [_needed(p) for p in needed_raw]
        slots = needed_slots or [[] for _ in needed_raw]
        strict = strict or [False] * len(needed_raw)

        def processor(input_ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
            mask = torch.stack([self._row(row[prefix:].tolist(), logits[n], raw[n // num_beams],
                                          slots[n // num_beams], strict[n // num_beams], max_new_tokens)
                                for n, row in enumerate(input_ids.cpu())])
            return logits.masked_fill(~mask.to(logits.device), float("-inf"))
        return processor

    def _todo(self, text: str, needed: list[str], strict: bool) -> tuple[int, str] | None:
        """(tokens still to write, the text to write next) for the raw placeholders; None if `text` can no
        longer become compatible (a placeholder too many or out of order; for a c-format source, a directive
        begun at the end that is neither one still needed nor %%)."""
        ok, left = _valid(placeholders(text), needed)
        if not ok:
            return None
        open_ = _open(text)
        unordered = lambda p: not (kind(p) == "printf" and Directive.parse(p).pos is None)
        nexts = [p for i, p in enumerate(left) if i == 0 or unordered(p)]      # what may come next
        target = next((p for p in nexts if open_ and p.startswith(open_)), None)
        if target is not None:                                      # finish the directive begun
            left = [target] + [p for p in left if p is not target]
            rest = target[len(open_):]
        elif strict and open_.startswith("%") and open_ != "%":
            return None
        elif left:
            rest = ("%" if strict and open_.startswith("%") else " " if open_ else "") + left[0]  # %% closes a %
        else:
            rest = "%" if strict and open_.startswith("%") else ""
        return (len(self.spell(rest)) if rest else 0) + sum(len(self.spell(p)) for p in left[1:]), rest

    def _row(self, ids: list[int], logits: torch.Tensor, needed: list[str], slots: list[int], strict: bool,
             max_new: int) -> torch.Tensor:
        """The allowed-token mask (V,) of one row."""
        V = logits.size(-1)
        allowed = torch.ones(V, dtype=torch.bool)
        if self.eos in ids:                                          # a finished row: anything goes
            return allowed
        missing = [s for s in slots if s not in ids]
        allowed[self.slot_ids] = False
        allowed[missing] = True
        text = self.tok.decode(ids)                                  # slots show as <phk>: no match spans them
        todo = self._todo(text, needed, strict) or (0, "")
        need, steps_left = len(missing) + todo[0], max_new - len(ids)
        tight = steps_left <= need + 4                               # near the end: check that the rest fits
        open_ = _open(text)
        if tight or (strict and open_.startswith("%")):
            risky = torch.ones(V, dtype=torch.bool)
        else:
            risky = self.risky[:V] | self.continues[:V] if open_ else self.risky[:V]
        risky[self.slot_ids] = False
        stray = _stray(text)
        allowed &= ~risky
        for t in logits.float().topk(min(self.top, V)).indices.tolist():   # check the likely risky ones
            if risky[t] and t != self.eos:
                new = text + self.text[t]
                after = self._todo(new, needed, strict)
                allowed[t] = after is not None and (not strict or _stray(new) <= stray) and \
                    (not tight or len(missing) + after[0] <= steps_left - 1)
        if need:
            allowed[self.eos] = False
            if steps_left <= need or not allowed.any():              # only what is missing still fits
                allowed[:] = False
                allowed[missing[0] if missing else self.spell(todo[1])[0]] = True
        return allowed


def _open(text: str) -> str:
    """The directive still being written at the end of the text ("" if none): not part of a placeholder."""
    m = _OPEN.search(PLACEHOLDER.sub("\0", text))
    return m[0] if m else ""


def _stray(text: str) -> int:
    """How many % of the text start no placeholder (one still being written at the end not counted)."""
    return PLACEHOLDER.sub("", text).count("%") - _open(text).startswith("%")
