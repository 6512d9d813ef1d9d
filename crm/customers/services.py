"""Operations on the customer ledger: search, save, delete. Services flush; requests commit."""
from dataclasses import dataclass
from math import ceil

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from crm import signals
from crm.customers.models import Customer
from crm.customers.normalize import normalize_kana, normalize_name, phone_search_digits
from crm.customers.tags import has_tag_condition
from crm.database import utcnow
from crm.extensions import db


def _order(sort, columns):
    """ORDER BY clauses of a sort, over the customers table or a selection of its columns."""
    if sort == "kana":
        return (columns.kana_norm.asc().nulls_last(), columns.id.asc())
    if sort == "newest":
        return (columns.created_at.desc(), columns.id.desc())
    if sort == "updated":
        return (columns.updated_at.desc(), columns.id.desc())
    raise KeyError(sort)


# key: ORDER BY clauses, each matched by an index on (shop_id, ...)
SORTS = {sort: _order(sort, Customer) for sort in ("kana", "newest", "updated")}
DEFAULT_SORT = "kana"
# A search with at most this many matches sorts its whole match set, found through the
# match-key indexes; a broader one walks the sort index until the page is filled.
MATCH_SET_LIMIT = 5000


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self):
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages


MIN_PHONE_INFIX = 4  # digits typed before the middle of a number matches (a 4-digit block)


def _like_prefix(value):
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def search_condition(query, region="JP"):
    """The WHERE clause for a search box entry: phone digits, name or kana, partial."""
    query = (query or "").strip()
    if not query:
        return None
    digits = phone_search_digits(query, region)
    if digits:
        conditions = [Customer.phone_national.like(_like_prefix(digits), escape="\\")]
        if len(digits) >= 3:  # 「5678」: the last digits of the number
            conditions.append(Customer.phone_national_reversed.like(_like_prefix(digits[::-1]), escape="\\"))
        if len(digits) >= MIN_PHONE_INFIX:
            # 「4910」 in 070-4910-6498: anywhere in the number, as a name matches from any of its parts.
            # Not indexed (a scan of the shop's rows), so only from a block's worth of digits.
            conditions.append(Customer.phone_national.like("%" + _like_prefix(digits), escape="\\"))
        return sa.or_(*conditions)
    name = normalize_name(query)
    kana = normalize_kana(query)
    return sa.or_(
        Customer.name_norm.like(_like_prefix(name), escape="\\"),
        Customer.given_name_norm.like(_like_prefix(name), escape="\\"),
        Customer.kana_norm.like(_like_prefix(kana), escape="\\"),
        Customer.given_kana_norm.like(_like_prefix(kana), escape="\\"),
    )


def search_customers(shop_id, query="", sort=DEFAULT_SORT, page=1, per_page=50, region="JP", tag_id=None):
    """One page of the shop's customers with their LINE friend, in two queries whatever the page size.

    ``tag_id`` keeps only the customers carrying that tag (combined with the search box by AND).

    The page query picks the page's ids first and only then loads those rows with their
    LINE friend, so a deep page skips index entries, not rows joined to their friend.
    """
    sort = sort if sort in SORTS else DEFAULT_SORT
    where = [Customer.shop_id == shop_id]
    condition = search_condition(query, region)
    if condition is not None:
        where.append(condition)
    if tag_id is not None:
        where.append(has_tag_condition(shop_id, tag_id))
        condition = sa.and_(*where[1:])
    total = db.session.execute(sa.select(sa.func.count()).select_from(Customer).where(*where)).scalar_one()
    page = max(1, min(page, max(1, ceil(total / per_page))))
    if condition is not None and total <= MATCH_SET_LIMIT:
        # Left alone, PostgreSQL may walk the sort index hoping to meet a page of matches
        # early; but name matches cluster in kana order (渡辺 → ワタナベ, at the end), so
        # the walk can cross the whole shop. A few thousand matches are cheaper to sort.
        matches = (
            sa.select(Customer.id, Customer.kana_norm, Customer.created_at, Customer.updated_at)
            .where(*where)
            .cte("matches")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        page_ids = sa.select(matches.c.id).order_by(*_order(sort, matches.c))
    else:
        page_ids = sa.select(Customer.id).where(*where).order_by(*SORTS[sort])
    page_ids = page_ids.limit(per_page).offset((page - 1) * per_page).subquery("page_ids")
    rows = db.session.scalars(
        sa.select(Customer)
        .join(page_ids, Customer.id == page_ids.c.id)
        .outerjoin(Customer.line_friend)
        .options(contains_eager(Customer.line_friend))
        .order_by(*SORTS[sort])
    ).all()
    return Page(items=rows, total=total, page=page, per_page=per_page)


def find_phone_duplicate(shop_id, phone_e164, exclude_id=None):
    """Another customer of the shop with the same normalized phone number, if any."""
    if not phone_e164:
        return None
    stmt = sa.select(Customer).where(Customer.shop_id == shop_id, Customer.phone_e164 == phone_e164)
    if exclude_id is not None:
        stmt = stmt.where(Customer.id != exclude_id)
    return db.session.scalars(stmt.order_by(Customer.id).limit(1)).first()


def apply_form(customer, form):
    """Copy the form's fields onto the customer and recompute its match keys."""
    customer.family_name = form.family_name.data.strip()
    customer.given_name = (form.given_name.data or "").strip()
    customer.family_name_kana = (form.family_name_kana.data or "").strip()
    customer.given_name_kana = (form.given_name_kana.data or "").strip()
    customer.email = (form.email.data or "").strip() or None
    customer.birthday = form.birthday.data
    customer.memo = form.memo.data or ""
    set_phone(customer, (form.phone.data or "").strip() or None, form.parsed_phone)
    customer.refresh_match_keys()


def phone_columns(entered, parsed) -> dict:
    """The phone as entered and its normalized keys, by column."""
    return {
        "phone": entered,
        "phone_e164": parsed.e164 if parsed else None,
        "phone_national": parsed.national if parsed else None,
        "phone_national_reversed": parsed.national[::-1] if parsed else None,
    }


def set_phone(customer, entered, parsed):
    """Store the phone as entered and its normalized keys."""
    for column, value in phone_columns(entered, parsed).items():
        setattr(customer, column, value)


def save_customer(customer):
    """Add or update a customer."""
    db.session.add(customer)
    db.session.flush()
    return customer


def delete_customer(customer: Customer) -> None:
    """Delete a customer; a linked LINE friend stays, unlinked, with everything it sent."""
    signals.customer_deleted.send(customer)
    db.session.delete(customer)
    db.session.flush()


def set_opt_out(customer: Customer, opted_out: bool) -> None:
    """Set 配信停止; the time is kept from when the customer first asked, not overwritten by a repeat."""
    if opted_out and not customer.broadcast_opt_out:
        customer.broadcast_opt_out_at = utcnow()
    if not opted_out:
        customer.broadcast_opt_out_at = None
    customer.broadcast_opt_out = opted_out
    db.session.flush()


def customers_by_id(shop_id, ids):
    """{id: customer} for a set of ids of the shop, in one query."""
    if not ids:
        return {}
    rows = db.session.scalars(sa.select(Customer).where(Customer.shop_id == shop_id, Customer.id.in_(ids))).all()
    return {c.id: c for c in rows}
