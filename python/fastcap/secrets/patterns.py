"""What counts as a secret (docs/specs/reports.md §6.2–6.4, §6.6): one table for redaction and the leak scan.

`fastcap.secrets.redact` replaces what this module describes and `fastcap.secrets.leakscan` checks written files for
it; both read the tables below, so a secret the scan would report is a secret `redact_text` removes.

- Names: sensitive header names and suffixes (§6.2), URL query parameters (§6.3), JSON/form body
  fields (§6.4), and the fields that are secret only on OAuth token endpoints.
- `VALUE_PATTERNS`: credentials recognisable by their shape wherever they appear (§6.6). Each has
  the group holding the secret itself (`Bearer <token>` keeps the word `Bearer`) and the lower-case
  literals one of which every match contains, so free text can be skipped cheaply.
- `HEADER_LINE_RE` / `FIELD_RE`: a `name: value` line with a sensitive header name, and a JSON key
  from the field list (or a sensitive header name used as a key) with a scalar value.
- Base64 (§6.7): `B64_RUN_RE` finds runs of base64 text (standard or URL-safe alphabet, padded or
  not) long enough to hold a secret; `b64_secret_runs` decodes each one (one level, at every
  alignment) and keeps those whose decoded text a `VALUE_PATTERNS` expression matches. The pseudo
  literal `B64_TRIGGER` stands for "a base64 run decodes to a secret" among the `TRIGGERS`, so the
  literal pre-checks of redaction and the scan cover it as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fastcap._native import LiteralSet, b64_candidate_runs, b64_decoded_texts

DEFAULT_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "x-amz-security-token",
        "cookie",
        "set-cookie",
        "openai-organization",
        "openai-project",
        "x-amzn-kiro-profile-arn",
    }
)
DEFAULT_HEADER_SUFFIXES: tuple[str, ...] = ("-token", "-secret", "-api-key")
DEFAULT_QUERY_PARAMS: frozenset[str] = frozenset(
    p.lower()
    for p in (
        "key",
        "api_key",
        "apikey",
        "access_token",
        "token",
        "id_token",
        "refresh_token",
        "client_secret",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "signature",
        "sig",
    )
)
DEFAULT_BODY_FIELDS: frozenset[str] = frozenset(
    f.lower()
    for f in (
        "refreshToken",
        "clientSecret",
        "accessToken",
        "idToken",
        "deviceCode",
        "AccessKeyId",
        "SecretKey",
        "SessionToken",
        "SecretAccessKey",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "api_key",
        "apiKey",
        "password",
        "secret",
        "private_key",
        "authorization",
    )
)
# Redacted only on OAuth token endpoints / callback paths (elsewhere `code` is an error code etc.).
OAUTH_ONLY_FIELDS: frozenset[str] = frozenset({"code"})


@dataclass(frozen=True, slots=True)
class SecretPattern:
    name: str  # what the leak scan calls a finding
    regex: re.Pattern[
        str
    ]  # what the leak scan looks for (docs/specs/reports.md §6.6, verbatim apart from groups)
    triggers: tuple[str, ...]  # lower-case literals; every match contains at least one of them
    group: int = 0  # the group that is the secret itself (0: the whole match)
    # A wider match for redaction when the scanned shape is only the start of the secret.
    redaction: re.Pattern[str] | None = None

    @property
    def redaction_regex(self) -> re.Pattern[str]:
        return self.redaction or self.regex


def _p(
    name: str, rx: str, triggers: tuple[str, ...], group: int = 0, redaction: str | None = None
) -> SecretPattern:
    return SecretPattern(name, re.compile(rx), triggers, group, re.compile(redaction) if redaction else None)


_GH = tuple(f"gh{c}_" for c in "pousr")

# Groups added to the §6.6 expressions only mark the secret part; they do not change what matches.
VALUE_PATTERNS: tuple[SecretPattern, ...] = (
    _p("Anthropic key / OAuth token", r"sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]{20,}", ("sk-ant-",)),
    _p("OpenAI project/service/admin key", r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}", ("sk-",)),
    _p("generic sk- key", r"\bsk-[A-Za-z0-9][A-Za-z0-9_-]{19,}", ("sk-",)),
    _p("AWS SSO OIDC token", r"\bao[ar][A-Za-z0-9_+/=:.-]{20,}", ("aoa", "aor")),
    _p("AWS access key id", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", ("akia", "asia")),
    _p("AWS session token", r"\bIQoJ[A-Za-z0-9+/=]{40,}", ("iqoj",)),
    _p("AWS session token (STS, old)", r"\bFwoGZXIvYXdz[A-Za-z0-9+/=]{40,}", ("fwogzxivyxdz",)),
    _p("SigV4 signature", r"Signature=([0-9a-f]{64})", ("signature=",), 1),
    _p("SigV4 signature", r"X-Amz-Signature=([0-9a-f]{64})", ("x-amz-signature=",), 1),
    _p("SigV4 credential", r"Credential=((?:AKIA|ASIA)[A-Z0-9]{16})/", ("credential=",), 1),
    # The scanned shape stops at the opening quote of the value; redaction takes the value too.
    _p(
        "AWS secret in JSON",
        r"\"(?:SecretKey|SecretAccessKey|aws_secret_access_key)\"\s*:\s*\"(?!\[REDACTED)",
        ("secretkey", "secretaccesskey", "aws_secret_access_key"),
        1,
        r"\"(?:SecretKey|SecretAccessKey|aws_secret_access_key)\"\s*:\s*\"(?!\[REDACTED)((?:[^\"\\]|\\.)*)",
    ),
    _p("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b", ("aiza",)),
    _p("Google OAuth access token", r"\bya29\.[0-9A-Za-z_-]{20,}", ("ya29.",)),
    _p("Google OAuth refresh token", r"\b1//0[0-9A-Za-z_-]{20,}", ("1//0",)),
    _p("Google OAuth client secret", r"\bGOCSPX-[0-9A-Za-z_-]{20,}", ("gocspx-",)),
    _p("JWT", r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}", ("eyj",)),
    _p("Bearer credential", r"(?i)\bbearer\s+(?!\[REDACTED)([A-Za-z0-9._~+/-]{16,}=*)", ("bearer",), 1),
    _p("Basic credential", r"(?i)\bbasic\s+(?!\[REDACTED)([A-Za-z0-9+/]{16,}=*)", ("basic",), 1),
    _p("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b", _GH),
    _p("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{40,}", ("github_pat_",)),
    _p("Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}", ("hf_",)),
    _p("xAI key", r"\bxai-[A-Za-z0-9]{40,}", ("xai-",)),
    _p("Groq key", r"\bgsk_[A-Za-z0-9]{40,}", ("gsk_",)),
    # The scan flags the armour line; redaction removes the whole block (to the end line, or to the
    # end of the key material when the text was cut).
    _p(
        "private key",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
        ("private key",),
        0,
        r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----(?:[\s\S]*?-----END \1PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)",
    ),
)

_HEADER_NAMES = sorted(DEFAULT_HEADERS, key=len, reverse=True)
_SUFFIX_RX = "|".join(re.escape(s) for s in DEFAULT_HEADER_SUFFIXES)
# A header line: optional indentation / list or table punctuation, name, colon, value (group 2).
HEADER_LINE_RE = re.compile(
    r"^[\s>*|`-]*((?:"
    + "|".join(re.escape(h) for h in _HEADER_NAMES)
    + r")|[A-Za-z0-9-]+(?:"
    + _SUFFIX_RX
    + r"))\s*:\s*(.*?)\s*\|?\s*$",
    re.IGNORECASE,
)
# A JSON key from §6.4 (or a sensitive header name used as a JSON key) with a non-marker value
# (group 2: a JSON string or number; `{` / `[` open a structure whose leaves are checked on their
# own). `code` is left out: outside token endpoints it is an error code.
_FIELD_NAMES = sorted(DEFAULT_BODY_FIELDS | DEFAULT_HEADERS, key=len, reverse=True)
FIELD_NAME_RE = re.compile(
    r"(?:" + "|".join(re.escape(f) for f in _FIELD_NAMES) + r")|[A-Za-z0-9-]+(?:" + _SUFFIX_RX + r")",
    re.IGNORECASE,
)
FIELD_RE = re.compile(
    r"\"(" + FIELD_NAME_RE.pattern + r")\"\s*:\s*(\"(?:[^\"\\]|\\.)*\"|-?\d[\d.eE+-]*|\{|\[)",
    re.IGNORECASE,
)
# Lower-case literals one of which a header line or a field match contains.
NAME_TRIGGERS: tuple[str, ...] = tuple(sorted(set(_FIELD_NAMES) | set(DEFAULT_HEADER_SUFFIXES)))
# The literals of the expressions themselves (what `present_triggers` looks for in plain text).
TEXT_TRIGGERS: tuple[str, ...] = tuple(
    sorted({t for p in VALUE_PATTERNS for t in p.triggers} | set(NAME_TRIGGERS))
)
# A pseudo literal (upper case: never a substring of lower-cased text) that `present_triggers`
# reports when a base64 run of the text decodes to a secret (docs/specs/reports.md §6.7).
B64_TRIGGER = "B64"
TRIGGERS: tuple[str, ...] = (*TEXT_TRIGGERS, B64_TRIGGER)
NAME_TRIGGER_SET: frozenset[str] = frozenset(NAME_TRIGGERS)
# The non-ASCII letters a case-insensitive `re` pattern matches to ASCII letters (İ ı ſ K); folded
# before lower-casing so the pre-check never rules out what the expressions would match.
_FOLD_CHARS = "\u0130\u0131\u017f\u212a"
_FOLD = str.maketrans(dict(zip(_FOLD_CHARS, "iisk", strict=True)))


def present_triggers(text: str, among: Iterable[str] = TRIGGERS) -> set[str]:
    """The literals of `TRIGGERS` that occur in `text` (case-insensitively). A pattern whose
    triggers are all absent cannot match, so both redaction and the scan skip it; most text holds
    none. `among` narrows the literals, e.g. to those found in the whole file a line belongs to.
    `B64_TRIGGER` is present when a base64 run of `text` decodes to a secret (`b64_secret_runs`)."""
    found = literals_in(text, among)
    if B64_TRIGGER in among and has_b64_secret(text):
        found.add(B64_TRIGGER)
    return found


def _folded(text: str) -> str:
    """`text` with İ ı ſ K folded to the ASCII letters a case-insensitive expression matches."""
    if not text.isascii() and any(c in text for c in _FOLD_CHARS):
        return text.translate(_FOLD)
    return text


def fold_lower(text: str) -> str:
    """`text` lower-cased as the literal pre-checks compare it (İ ı ſ K folded to ASCII first)."""
    return _folded(text).lower()


def literals_in(text: str | bytes, among: Iterable[str] = TEXT_TRIGGERS) -> set[str]:
    """The literals of `TEXT_TRIGGERS` found in `text` (case-insensitively, as `fold_lower` compares),
    narrowed to `among`. One native Aho-Corasick pass over the text: `in` per literal read a
    100 KB request body a hundred times, a third of `fastcap report`'s time."""
    if isinstance(text, str):
        text = _folded(text)
    found = {TEXT_TRIGGERS[i] for i in _TEXT_TRIGGER_SET.present(text)}
    return found if among is TEXT_TRIGGERS or among is TRIGGERS else found.intersection(among)


# Every literal of `TEXT_TRIGGERS` (all ASCII and lower case), searched in one pass.
_TEXT_TRIGGER_SET = LiteralSet(list(TEXT_TRIGGERS))


# --- base64 (docs/specs/reports.md §6.7) -----------------------------------------------------------
#
# A secret hidden in base64 is looked for in two steps. The native pre-check
# (`fastcap._native.b64_candidate_runs`, rust/fastcap-core/src/b64scan.rs) finds the runs of the
# alphabet and decodes each from each of its first four characters (base64 glued to a word of the
# alphabet, `/v1/keys/QUtJ…`, is read at its own alignment); a run is a candidate when a decoding is
# ASCII of 20+ bytes or holds 20 printable ASCII bytes in a row, which a secret does and random
# base64 almost never does (about once in 10^8 runs). Only candidates are decoded to text
# (`_native.b64_decoded_texts`, the same decoder) and searched with `VALUE_PATTERNS`. (The
# pre-check was Python `bytes` operations: 25 s on a 25 MB body of alphanumeric words.)

# The shortest secret an expression matches is 20 characters (an AWS key id); its base64 takes 27.
B64_MIN_RUN = 24
# A run of the standard or URL-safe alphabet (both: a run cannot tell them apart), padding kept.
B64_RUN_RE = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")  # {B64_MIN_RUN,}


def b64_decoded_secrets(run: str | bytes) -> Iterator[tuple[SecretPattern, str]]:
    """(pattern, match) for every `VALUE_PATTERNS` match in one base64 run decoded from each of its
    first four characters (base64 glued to a word of the alphabet, such as `/v1/keys/QUtJ…`, is
    read at its own alignment; `_native.b64_decoded_texts`, the decoder of the pre-check). Padding
    is ignored; one level of decoding."""
    data = run.encode("ascii", "replace") if isinstance(run, str) else run
    for text in b64_decoded_texts(data):
        present = literals_in(text)
        if not present:
            continue
        for pattern in VALUE_PATTERNS:
            if present.isdisjoint(pattern.triggers):
                continue
            for m in pattern.regex.finditer(text):
                yield pattern, m.group(0)


def b64_secret_spans(text: str | bytes, *, first: bool = False) -> list[tuple[int, int]]:
    """(start, end) of the base64 runs of `text` (padding not included) whose decoded text holds a
    secret, in order; with `first`, at most one. Linear work, in Rust but for the rare candidates."""
    if len(text) < B64_MIN_RUN:
        return []
    # One byte per character: positions in `data` are positions in `text`.
    data = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    found: list[tuple[int, int]] = []
    for i, j in b64_candidate_runs(data):
        if next(b64_decoded_secrets(data[i:j]), None) is not None:
            found.append((i, j))
            if first:
                break
    return found


def b64_secret_runs(text: str) -> Iterator[re.Match[str]]:
    """The base64 runs of `text` (with their padding) whose decoded text holds a secret."""
    spans = b64_secret_spans(text)
    if spans:
        starts = {s for s, _ in spans}
        for m in B64_RUN_RE.finditer(text):
            if m.start() in starts:
                yield m


def has_b64_secret(text: str | bytes) -> bool:
    """True when a base64 run of `text` decodes to a secret (`b64_secret_spans`)."""
    return bool(b64_secret_spans(text, first=True))


def is_sensitive_field_name(name: str) -> bool:
    """True for a JSON key the leak scan treats as a secret field (§6.4 names, header names, suffixes)."""
    return FIELD_NAME_RE.fullmatch(name) is not None


__all__ = [
    "B64_RUN_RE",
    "B64_TRIGGER",
    "DEFAULT_BODY_FIELDS",
    "DEFAULT_HEADERS",
    "DEFAULT_HEADER_SUFFIXES",
    "DEFAULT_QUERY_PARAMS",
    "FIELD_RE",
    "HEADER_LINE_RE",
    "NAME_TRIGGERS",
    "NAME_TRIGGER_SET",
    "OAUTH_ONLY_FIELDS",
    "TEXT_TRIGGERS",
    "TRIGGERS",
    "VALUE_PATTERNS",
    "SecretPattern",
    "b64_decoded_secrets",
    "b64_secret_runs",
    "b64_secret_spans",
    "fold_lower",
    "has_b64_secret",
    "is_sensitive_field_name",
    "literals_in",
    "present_triggers",
]
