"""Discord embeds for alerts and research items, cut to Discord's limits.

Limits (Discord API docs, "Embed Limits"): title 256, description 4096, at most 25 fields, field name 256 and
value 1024, footer 2048, and 6000 characters over every embed of one message, which holds at most 10 embeds.
A message over any of them is refused with a 400, so every embed is cut here, before it is queued or sent.

Text is escaped for Discord's markdown (descriptions and field values render it) and `@` is defused with a
zero-width space, on top of `allowed_mentions: none`, so that `@everyone` in a symbol or a reason neither pings
nor reads as a mention.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
_ELLIPSIS = "…"
_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()-])")

Embed = dict[str, Any]


def escape_markdown(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text).replace("@", "@\u200b")


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` with '…', never ending on a lone escaping backslash (it would escape the '…')."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)]
    if (len(head) - len(head.rstrip("\\"))) % 2:
        head = head[:-1]
    return head + _ELLIPSIS


def _cut_escaped(text: str, limit: int) -> str:
    return _cut(escape_markdown(text), limit)


def embed_size(embed: Embed) -> int:
    """The characters Discord counts towards the 6000 of a message: title, description, field names and values,
    footer text and author name."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", ()))
    size += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    return size


def embed_of(payload: dict[str, Any]) -> Embed:
    """One embed for an alert or research payload (`title`, optional `description`, `fields` [[name, value]],
    optional `footer`, `color` and ISO `timestamp`), every part within its limit and the whole within 6000.

    Fields past the 25th go into the last one; when the whole is still too long, the longest value is cut first,
    then the description."""
    embed: Embed = {"title": _cut_escaped(str(payload["title"]), EMBED_TITLE_LIMIT)}
    description = str(payload.get("description") or "")
    if description:
        embed["description"] = _cut_escaped(description, EMBED_DESCRIPTION_LIMIT)
    pairs = [(str(n), str(v)) for n, v in payload.get("fields", ())]
    if len(pairs) > EMBED_FIELDS_LIMIT:
        rest = pairs[EMBED_FIELDS_LIMIT - 1:]
        pairs = [*pairs[:EMBED_FIELDS_LIMIT - 1], ("more", "; ".join(f"{n}: {v}" for n, v in rest))]
    embed["fields"] = [{"name": _cut_escaped(n, EMBED_FIELD_NAME_LIMIT) or "\u200b",
                        "value": _cut_escaped(v, EMBED_FIELD_VALUE_LIMIT) or "\u200b", "inline": len(v) <= 40}
                       for n, v in pairs]
    if payload.get("footer"):
        embed["footer"] = {"text": _cut_escaped(str(payload["footer"]), EMBED_FOOTER_LIMIT)}
    if payload.get("color") is not None:
        embed["color"] = int(payload["color"])
    if payload.get("timestamp"):
        embed["timestamp"] = str(payload["timestamp"])
    _fit(embed)
    return embed


def _fit(embed: Embed) -> None:
    while (excess := embed_size(embed) - EMBED_TOTAL_LIMIT) > 0:
        fields = embed["fields"]
        longest = max(fields, key=lambda f: len(f["value"]), default=None)
        if longest is not None and len(longest["value"]) > 64:
            longest["value"] = _cut(longest["value"], max(64, len(longest["value"]) - excess))
        elif len(embed.get("description", "")) > 64:
            embed["description"] = _cut(embed["description"], max(64, len(embed["description"]) - excess))
        else:  # only short parts are left: drop fields from the end
            fields.pop()


def batch_embeds(payloads: Sequence[dict[str, Any]]) -> tuple[tuple[Embed, ...], int]:
    """The embeds of the first payloads that fit one message (10 embeds, 6000 characters), and how many that is
    (at least one: every single embed fits on its own)."""
    embeds: list[Embed] = []
    total = 0
    for payload in payloads[:EMBEDS_PER_MESSAGE]:
        embed = embed_of(payload)
        size = embed_size(embed)
        if embeds and total + size > EMBED_TOTAL_LIMIT:
            break
        embeds.append(embed)
        total += size
    return tuple(embeds), len(embeds)
