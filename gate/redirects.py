"""Where a person is sent after signing in: the page they first asked for, if it is a page of this site, and the
UI's home otherwise. Nothing in the ``next`` parameter, however written, sends them to another site.

Browsers are forgiving with a redirect's address: they drop tabs and line breaks anywhere in it, trim spaces and
controls at its ends, read a backslash as a slash, and some servers or scripts decode it once more. Each of these
turns a harmless-looking ``/\t/evil.example`` into ``//evil.example``, another site. So anything that could be read
that way is refused outright rather than cleaned: a real page of the UI never needs it.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

HOME = "/"
SIGN_IN = "/sign-in"  # the sign-in pages (gate/signin_app.py), where a person not signed in is sent
SIGN_OUT = "/sign-out"
MAX_LENGTH = 2000
NOT_AFTER_SIGN_IN = (SIGN_IN, SIGN_OUT)  # going back to them would only sign in again, or out
_ENCODED_SLASH = re.compile(r"%(2f|5c)", re.IGNORECASE)
_DECODINGS = 3  # readings checked: as sent, decoded once, twice; a target encoded deeper is no page of the UI


def local_path(target: str | None) -> str:
    """``target`` unchanged when it is a path of this site that nothing can read as another site's address; else
    ``"/"``. Refused: empty or over 2000 characters; not starting with exactly one ``/``; any control character,
    invisible formatting character, backslash, or encoded ``/`` or ``\\``; a ``.`` or ``..`` segment; a start of
    ``//`` or ``/\\`` once whitespace is removed or once percent-decoded; the sign-in and sign-out pages."""
    if not target or len(target) > MAX_LENGTH:
        return HOME
    seen = target
    for _ in range(_DECODINGS):
        if not _plain_path(seen):
            return HOME
        decoded = urllib.parse.unquote(seen)
        if decoded == seen:
            return target
        seen = decoded
    return HOME


def _plain_path(text: str) -> bool:
    """One reading of the target (as sent, or decoded) that no browser can take for another site."""
    if not text.startswith("/") or _ENCODED_SLASH.search(text) or any(_hidden(c) or c == "\\" for c in text):
        return False
    squeezed = "".join(c for c in text if not c.isspace())  # browsers drop tabs and line breaks anywhere
    if squeezed.startswith("//"):
        return False
    path = squeezed.split("?", 1)[0].split("#", 1)[0]
    if any(segment in (".", "..") for segment in path.split("/")):  # resolved by the browser: "/..//x" ends as "//x"
        return False
    return not path.lower().startswith(NOT_AFTER_SIGN_IN)


def _hidden(character: str) -> bool:
    """A control character (C0, DEL, C1) or an invisible one (formatting, line and paragraph separators)."""
    return unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
