"""キーワード応答: a shop's rules compiled once per version, matched in Python.

An event costs one query for the shop's settings (its ``rules_version``); the
rules themselves are read again only when an edit bumped the version, so 200
rules are never 200 queries, and a match is a loop over plain tuples.
"""
import threading
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa

from crm.autoreply.models import KeywordRule, MatchType, ReplyKind
from crm.extensions import db


def normalize(text: str) -> str:
    """NFKC (full-width and half-width alike) then casefold, spaces at the ends dropped."""
    return unicodedata.normalize("NFKC", text or "").casefold().strip()


@dataclass(frozen=True)
class CompiledRule:
    """What a match needs of a rule, copied out of the ORM (shared between threads and requests)."""

    id: int
    name: str
    keyword: str  # normalized
    match_type: MatchType
    priority: int
    reply_kind: ReplyKind
    reply_text: str
    image_url: str

    def matches(self, text: str) -> bool:
        if self.match_type == MatchType.EXACT:
            return text == self.keyword
        if self.match_type == MatchType.PREFIX:
            return text.startswith(self.keyword)
        return self.keyword in text


def compile_rule(rule: KeywordRule) -> CompiledRule:
    """One rule as matching uses it (whether enabled or not)."""
    return CompiledRule(rule.id, rule.name, normalize(rule.keyword), MatchType(rule.match_type), rule.priority,
                        ReplyKind(rule.reply_kind), rule.reply_text, rule.image_url)


def compile_rules(rules) -> tuple[CompiledRule, ...]:
    """Enabled rules, highest priority first (then the oldest), with their keywords normalized."""
    compiled = [compile_rule(r) for r in rules if r.enabled and normalize(r.keyword)]
    compiled.sort(key=lambda r: (-r.priority, r.id))
    return tuple(compiled)


def first_match(rules: tuple[CompiledRule, ...], text: str) -> CompiledRule | None:
    """The rule that answers `text` (normalized here), or None: the first, in priority order, that matches."""
    text = normalize(text)
    if not text:
        return None
    exact, contains, prefix = MatchType.EXACT, MatchType.CONTAINS, MatchType.PREFIX
    for rule in rules:  # plain string operations: ~60 µs for 200 rules
        keyword, kind = rule.keyword, rule.match_type
        if (kind is contains and keyword in text) or (kind is exact and keyword == text) or (
                kind is prefix and text.startswith(keyword)):
            return rule
    return None


_cache: dict[tuple[str, int], tuple[int, tuple[CompiledRule, ...]]] = {}
_lock = threading.Lock()


def rules_for(shop_id: int, version: int) -> tuple[CompiledRule, ...]:
    """The shop's compiled rules at `version`: from this process's cache, else read and compiled once."""
    key = (str(db.engine.url), shop_id)  # one cache per database (tests, benchmarks)
    cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    rules = db.session.scalars(sa.select(KeywordRule).where(KeywordRule.shop_id == shop_id)).all()
    compiled = compile_rules(rules)
    with _lock:
        _cache[key] = (version, compiled)
    return compiled


def forget(shop_id: int | None = None) -> None:
    """Drop the cache (a test that rolls back a version it bumped)."""
    with _lock:
        if shop_id is None:
            _cache.clear()
        else:
            for key in [k for k in _cache if k[1] == shop_id]:
                del _cache[key]
