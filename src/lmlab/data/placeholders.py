"""printf placeholders of software messages: find them, compare them as `msgfmt -c` does, mask them.

Messages carry placeholders a program fills in at run time (`%s`, `%lu`, `%1$s`, `%.*s`, `%%`, Python's
`%(name)s` and `{0}`; printf's space flag is left out, so "50% done" holds none). A translation is
*compatible* with its source when GNU gettext's `msgfmt -c` (format-c.c, format-python.c,
format-python-brace.c) would accept it: printf directives numbered consecutively unless written `%n$`
(a `*` width or precision takes an argument of its own), one string never mixing the two ways; every
argument of the source present in the translation with the same type (`%d` ≈ `%i`, `%u` ≈ `%x`, `%lu` ≠ `%u`);
`%%` and glibc's `%m` take no argument. Python's named and brace placeholders are compared as sets.

Masking (the "placeholder as a reserved token" trick of software-localisation MT): before encoding, the
k-th placeholder of a source becomes the token `<phk>`; a target's placeholders become the slot of
the source placeholder they stand for (the same text, or the argument a `%n$` names). The model then
copies opaque tokens instead of spelling `%`, `l`, `u`; `restore` puts the source's text back and,
when the translation moved unnumbered printf arguments around, writes them as `%n$`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDER = re.compile(
    r"%%"                                                       # a literal percent sign
    r"|%\(\w+\)[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"         # Python: %(name)s
    r"|%(?:\d+\$)?[-+#0']*(?:\d+|\*(?:\d+\$)?)?(?:\.(?:\d+|\*(?:\d+\$)?))?"  # printf: %[n$][flags][width][.prec]
    r"(?:hh|h|ll|l|L|q|j|z|Z|t)?[diouxXeEfFgGaAcCsSpnm]"        #         [length]conversion
    r"|\{\d*(?::[^{}]*)?\}|\{[A-Za-z_]\w*(?::[^{}]*)?\}")       # {0}, {}, {name}, {0:>8}
_PRINTF = re.compile(r"%(?:(\d+)\$)?([-+#0']*)(\d+|\*(?:\d+\$)?)?(?:\.(\d+|\*(?:\d+\$)?))?(hh|h|ll|l|L|q|j|z|Z|t)?([a-zA-Z])")
_SIZE = {"q": "ll", "Z": "z", "L": "ll"}                       # the same size to msgfmt
_TYPE = {**dict.fromkeys("di", "int"), **dict.fromkeys("ouxX", "unsigned"), **dict.fromkeys("eEfFgGaA", "double"),
         "c": "char", "C": "wchar", "s": "string", "S": "wstring", "p": "pointer", "n": "count"}
SLOT = "<ph{}>"
SLOT_RE = re.compile(r"<ph(\d+)>")


def placeholders(text: str) -> list[str]:
    """The placeholders of a message, in order: placeholders('%s: %lu of %%') = ['%s', '%lu', '%%']."""
    return PLACEHOLDER.findall(text)


def kind(ph: str) -> str:
    """'percent' (%%), 'noarg' (%m), 'printf', 'named' (%(name)s) or 'brace' ({0})."""
    if ph == "%%":
        return "percent"
    if ph.startswith("%("):
        return "named"
    if ph.startswith("{"):
        return "brace"
    return "noarg" if ph.endswith("m") else "printf"


@dataclass(frozen=True)
class Directive:
    """One printf directive split into its parts: %[pos$][flags][width][.precision][size]conversion."""
    pos: int | None
    flags: str
    width: str | None
    precision: str | None
    size: str
    conv: str

    @classmethod
    def parse(cls, ph: str) -> Directive:
        m = _PRINTF.fullmatch(ph)
        return cls(int(m[1]) if m[1] else None, m[2], m[3], m[4], m[5] or "", m[6])

    @property
    def type(self) -> str:
        return f"{_SIZE.get(self.size, self.size)} {_TYPE.get(self.conv, self.conv)}"

    def n_args(self) -> int:
        return (self.width == "*") + (self.precision == "*") + 1

    def numbered(self, first: int) -> str:
        """This directive written with explicit positions, its arguments being first, first + 1, …"""
        k = first
        width = precision = ""
        if self.width is not None:
            width, k = (f"*{k}$", k + 1) if self.width == "*" else (self.width, k)
        if self.precision is not None:
            precision, k = (f".*{k}$", k + 1) if self.precision == "*" else (f".{self.precision}", k)
        return f"%{k}${self.flags}{width}{precision}{self.size}{self.conv}"


def printf_arguments(text: str) -> dict[int, str] | None:
    """Argument number -> type of a string's printf directives, as printf numbers them; None when the string
    mixes `%n$` and unnumbered directives (msgfmt refuses it)."""
    args: dict[int, str] = {}
    numbered = unnumbered = False
    k = 1
    for ph in placeholders(text):
        if kind(ph) != "printf":
            continue
        d = Directive.parse(ph)
        if d.pos is None:
            unnumbered = True
            for _ in range(d.n_args() - 1):
                args[k], k = "int", k + 1
            args[k], k = d.type, k + 1
        else:  # %n$, its `*` width or precision written `*m$`
            numbered = True
            for star in (d.width, d.precision):
                if star == "*":
                    return None
                if star and star.startswith("*"):
                    args[int(star[1:-1])] = "int"
            if args.get(d.pos, d.type) != d.type:
                return None
            args[d.pos] = d.type
    return None if numbered and unnumbered else args


def _named(text: str) -> set[str]:
    """Python's %(name)s placeholders (name and conversion) and brace fields ({} counted as {0}, {1} …)."""
    out, auto = set(), 0
    for p in placeholders(text):
        if kind(p) == "named":
            out.add(re.sub(r"[-+ #0\d.]", "", p))
        elif kind(p) == "brace":
            field = p[1:-1].split(":")[0]
            if field == "":
                field, auto = str(auto), auto + 1
            out.add("{" + field + "}")
    return out


def stray_percents(text: str) -> int:
    """How many % of a text start no placeholder the pattern reads ("50% done", "%1$1$s", e2fsck's %B)."""
    return PLACEHOLDER.sub("", text).count("%")


def c_format(text: str) -> bool:
    """Whether xgettext would call the message c-format: printf directives, and no % outside them."""
    return any(kind(p) != "named" and kind(p) != "brace" for p in placeholders(text)) and not stray_percents(text)


def compatible(source: str, translation: str) -> bool:
    """Whether `msgfmt -c` would accept `translation` for `source`: the same printf arguments with the same
    types (in order, or placed with `%n$`), no stray % in the translation of a c-format source; the same
    Python named and brace placeholders (as sets)."""
    a, b = printf_arguments(source), printf_arguments(translation)
    if a is None or b is None or a != b or (c_format(source) and stray_percents(translation)):
        return False
    return _named(source) == _named(translation)


# ---- masking --------------------------------------------------------------------------------------------
def slot_tokens(n: int) -> list[str]:
    """The reserved tokens of n slots: <ph0> … <ph{n-1}>."""
    return [SLOT.format(k) for k in range(n)]


def mask_source(text: str, n_slots: int) -> tuple[str, list[str]]:
    """(text with its first n_slots placeholders replaced by <ph0>, <ph1> …, those placeholders)."""
    found: list[str] = []

    def sub(m: re.Match) -> str:
        if len(found) >= n_slots:
            return m[0]
        found.append(m[0])
        return SLOT.format(len(found) - 1)
    return PLACEHOLDER.sub(sub, text), found


def _argument_slots(phs: list[str]) -> dict[int, int]:
    """printf argument number -> the slot whose directive consumes it as its value (unnumbered sources)."""
    out, k = {}, 1
    for slot, ph in enumerate(phs):
        if kind(ph) == "printf":
            d = Directive.parse(ph)
            k = d.pos if d.pos is not None else k + d.n_args() - 1
            out[k] = slot
            k += 1
    return out


def mask_target(text: str, phs: list[str]) -> str:
    """A reference translation with each placeholder that stands for a source slot replaced by that slot
    (the same text, first unused; or the argument its `%n$` names); others stay as they are."""
    used: set[int] = set()
    by_arg = _argument_slots(phs)

    def sub(m: re.Match) -> str:
        ph = m[0]
        slot = next((k for k, p in enumerate(phs) if p == ph and k not in used), None)
        if slot is None and kind(ph) == "printf" and Directive.parse(ph).pos is not None:
            slot = by_arg.get(Directive.parse(ph).pos)
            if slot is not None and (slot in used or Directive.parse(phs[slot]).type != Directive.parse(ph).type):
                slot = None
        if slot is None:
            return ph
        used.add(slot)
        return SLOT.format(slot)
    return PLACEHOLDER.sub(sub, text)


def restore(text: str, phs: list[str]) -> str:
    """Put the source's placeholders back for the slots of a masked translation. When unnumbered printf
    arguments come out in another order than the source's, they are all written as `%n$` (printf and
    msgfmt accept `%2$s … %1$s` for a source `%s … %s`); an unknown slot is dropped."""
    slots = [int(m[1]) for m in SLOT_RE.finditer(text) if int(m[1]) < len(phs)]
    printf = [k for k in slots if kind(phs[k]) == "printf"]
    reorder = (printf != sorted(printf) and all(Directive.parse(phs[k]).pos is None for k in printf)
               and not any(kind(p) == "printf" for p in placeholders(SLOT_RE.sub("", text))))
    first, k = {}, 1
    for slot, ph in enumerate(phs):
        if kind(ph) == "printf":
            first[slot], k = k, k + Directive.parse(ph).n_args()

    def sub(m: re.Match) -> str:
        slot = int(m[1])
        if slot >= len(phs):
            return ""
        return Directive.parse(phs[slot]).numbered(first[slot]) if reorder and slot in first else phs[slot]
    return SLOT_RE.sub(sub, text)
