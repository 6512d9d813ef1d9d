"""Search inside the shop's conversations (チャット内検索): message text and names.

Message text is matched as a literal substring (`%` and `_` are characters, not wildcards):

- PostgreSQL: ILIKE on line_messages.text, served by a pg_trgm GIN index
  (ix_line_messages_text_trgm), which splits Japanese into trigrams as well as Latin.
- SQLite: FTS5 with the trigram tokenizer (line_messages_fts, an external-content
  table kept in sync by triggers; both made by the migration on SQLite only).
- A query of one or two characters has no trigram. On PostgreSQL a GIN index of each
  text's characters and character pairs (crm_short_grams, made by the migration) finds
  the candidates, ILIKE confirms them; on SQLite it is LIKE over the shop's messages,
  newest first (the (shop_id, id) index), stopped at the page size.

Names: the friend's LINE name, the customer's name and kana (partial, any width).
Every search is a fixed number of queries, whatever the number of hits.
"""
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import selectinload

from crm.conversations.models import LineFriend, LineMessage
from crm.conversations.paging import MessagePage
from crm.customers.models import Customer
from crm.customers.normalize import normalize_kana, normalize_name
from crm.database import UTCDateTime
from crm.extensions import db

QUERY_MAX = 100
MESSAGE_HITS = 50
NAME_HITS = 20
SNIPPET_AROUND = 40
TRIGRAM = 3  # shortest query the trigram indexes answer


@dataclass
class MessageHit:
    message: LineMessage
    friend: LineFriend
    customer: Customer | None
    segments: list[tuple[str, bool]]  # [(text, is_hit)], a snippet around the first hit


@dataclass
class FriendHit:
    friend: LineFriend
    customer: Customer | None


@dataclass
class SearchResult:
    query: str
    messages: list[MessageHit] = field(default_factory=list)
    friends: list[FriendHit] = field(default_factory=list)
    more_messages: bool = False


def clean_query(query: str | None) -> str:
    """The query as searched: trimmed, at most QUERY_MAX characters."""
    return (query or "").strip()[:QUERY_MAX]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _inline(value: str) -> ColumnElement[str]:
    # Rendered into the SQL, not bound: PostgreSQL then plans each search for its own words. Bound,
    # psycopg prepares the statement after five runs and PostgreSQL switches to a generic plan
    # that cannot tell a common pair of characters from a rare one (2.5 s instead of 30 ms).
    return sa.bindparam(None, value, type_=sa.Text, literal_execute=True)


def _contains(column: sa.ColumnElement[str] | Any, text: str) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = column.ilike(_inline(f"%{_like_escape(text)}%"), escape="\\")
    return condition


def _fts_phrase(text: str) -> str:
    # An FTS5 string: every character literal, double quotes doubled.
    return '"' + text.replace('"', '""') + '"'


def _text_condition(query: str) -> ColumnElement[bool]:
    dialect = db.session.get_bind().dialect.name
    if len(query) >= TRIGRAM and dialect == "sqlite":
        fts = sa.text("SELECT rowid FROM line_messages_fts WHERE line_messages_fts MATCH :phrase")
        return LineMessage.id.in_(fts.bindparams(phrase=_fts_phrase(query)).columns(sa.column("rowid")))
    # PostgreSQL: the trigram index serves ILIKE; with fewer than 3 characters the short-gram
    # index does. The query is one element (lowered by PostgreSQL, as the index's grams are):
    # its own statistics then tell a common pair (walk newest first) from a rare one (the
    # index); all its grams would multiply as if independent and make every pair look rare.
    if dialect == "postgresql" and len(query) < TRIGRAM:
        gram = postgresql.array([sa.func.lower(_inline(query))])
        return sa.and_(sa.func.crm_short_grams(LineMessage.text).op("@>")(gram), _contains(LineMessage.text, query))
    return _contains(LineMessage.text, query)


def segments(text: str, query: str, around: int = SNIPPET_AROUND) -> list[tuple[str, bool]]:
    """The text cut to a snippet around its first hit, as (part, is_hit) pairs, hits case-insensitive.

    The template escapes every part; only the <mark> around hits is markup.
    """
    text = text or ""
    lowered, needle = text.casefold(), query.casefold()
    if not needle or len(lowered) != len(text):  # casefold changed lengths (ß): match as typed
        lowered, needle = text, query
    first = lowered.find(needle)
    if first < 0:
        return [(text[: around * 2], False)]
    start = max(0, first - around)
    end = min(len(text), first + len(needle) + around)
    parts = [("…", False)] if start > 0 else []
    position = start
    while True:
        hit = lowered.find(needle, position, end)
        if hit < 0 or hit + len(needle) > end:
            break
        if hit > position:
            parts.append((text[position:hit], False))
        parts.append((text[hit:hit + len(needle)], True))
        position = hit + len(needle)
    if position < end:
        parts.append((text[position:end], False))
    if end < len(text):
        parts.append(("…", False))
    return parts


def search_messages(shop_id: int, query: str, limit: int = MESSAGE_HITS) -> tuple[list[MessageHit], bool]:
    """Messages of the shop containing the query, newest first, with their friend and customer: one query."""
    rows = db.session.execute(
        sa.select(LineMessage, LineFriend, Customer)
        .join(LineFriend, LineFriend.id == LineMessage.friend_id)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        .where(LineMessage.shop_id == shop_id, LineMessage.text.is_not(None), LineMessage.unsent_at.is_(None),
               LineFriend.spam_at.is_(None), _text_condition(query))
        .order_by(LineMessage.id.desc())
        .limit(limit + 1)
    ).all()
    hits = [MessageHit(m, f, c, segments(m.text, query)) for m, f, c in rows[:limit]]
    return hits, len(rows) > limit


def search_friends(shop_id: int, query: str, limit: int = NAME_HITS) -> list[FriendHit]:
    """Friends whose LINE name, or whose customer's name or kana, contains the query: one query."""
    name, kana = normalize_name(query), normalize_kana(query)
    conditions = [_contains(LineFriend.display_name, query)]
    if name:
        conditions += [_contains(Customer.name_norm, name), _contains(Customer.given_name_norm, name)]
    if kana:
        conditions += [_contains(Customer.kana_norm, kana), _contains(Customer.given_kana_norm, kana)]
    rows = db.session.execute(
        sa.select(LineFriend, Customer)
        .outerjoin(Customer, Customer.id == LineFriend.customer_id)
        .where(LineFriend.shop_id == shop_id, LineFriend.spam_at.is_(None), sa.or_(*conditions))
        .order_by(LineFriend.last_message_at.desc().nulls_last(), LineFriend.id.desc())
        .limit(limit)
    ).all()
    return [FriendHit(f, c) for f, c in rows]


def search(shop_id: int, query: str | None) -> SearchResult:
    """Messages and names of the shop matching the query (two queries; none for an empty query)."""
    query = clean_query(query)
    if not query:
        return SearchResult(query="")
    messages, more = search_messages(shop_id, query)
    return SearchResult(query=query, messages=messages, friends=search_friends(shop_id, query), more_messages=more)


# -- opening a conversation at a message -------------------------------------------------------------

@dataclass
class MessageWindow(MessagePage):
    """A page of the conversation around one message (a search hit), oldest first."""

    has_newer: bool = False
    focus_id: int | None = None


def window_around(friend: LineFriend, message_id: int, size: int = 30) -> MessageWindow | None:
    """The messages just before and after one message of the friend, by (sent_at, id); None if not theirs."""
    target = db.session.scalars(
        sa.select(LineMessage).where(LineMessage.id == message_id, LineMessage.friend_id == friend.id,
                                     LineMessage.shop_id == friend.shop_id)
    ).first()
    if target is None:
        return None
    key = sa.tuple_(LineMessage.sent_at, LineMessage.id)
    mark = sa.tuple_(sa.literal(target.sent_at, UTCDateTime()), sa.literal(target.id))
    half = size // 2

    def _side(condition: ColumnElement[bool], order: tuple[Any, ...], n: int) -> Sequence[LineMessage]:
        return db.session.scalars(
            sa.select(LineMessage)
            .options(selectinload(LineMessage.sender), selectinload(LineMessage.approved_by))
            .where(LineMessage.friend_id == friend.id, condition).order_by(*order).limit(n + 1)
        ).all()

    older = _side(key <= mark, (LineMessage.sent_at.desc(), LineMessage.id.desc()), half + 1)
    newer = _side(key > mark, (LineMessage.sent_at, LineMessage.id), half)
    has_older = len(older) > half + 1
    has_newer = len(newer) > half
    messages = list(reversed(older[: half + 1])) + list(newer[:half])
    return MessageWindow(messages=messages, has_older=has_older, has_newer=has_newer, focus_id=target.id)


def latest_message_id(friend: LineFriend) -> int:
    """The newest message id of the conversation (where polling continues from a window)."""
    return db.session.scalar(sa.select(sa.func.max(LineMessage.id)).where(LineMessage.friend_id == friend.id)) or 0
