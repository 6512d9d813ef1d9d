"""The customer ledger (顧客台帳)."""
import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.customers.normalize import normalize_kana, normalize_name
from crm.database import TimestampMixin, UTCDateTime, ordered_text, str_enum
from crm.extensions import db
from crm.shops.models import ShopOwnedMixin


def match_keys(family_name: str, given_name: str, family_name_kana: str, given_name_kana: str) -> dict:
    """The normalized match-key columns of a customer's names as entered (for rows written without the ORM, too)."""
    kana = normalize_kana(family_name_kana) + normalize_kana(given_name_kana)
    return {
        "name_norm": normalize_name(family_name) + normalize_name(given_name),
        "given_name_norm": normalize_name(given_name),
        "kana_norm": kana or None,  # NULL sorts after every name in the kana order
        "given_kana_norm": normalize_kana(given_name_kana) or None,
    }


class Customer(ShopOwnedMixin, TimestampMixin, db.Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_name: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    given_name: Mapped[str] = mapped_column(sa.String(60), nullable=False, default="")
    family_name_kana: Mapped[str] = mapped_column(sa.String(60), nullable=False, default="")
    given_name_kana: Mapped[str] = mapped_column(sa.String(60), nullable=False, default="")
    phone: Mapped[str | None] = mapped_column(sa.String(40))  # as entered
    phone_e164: Mapped[str | None] = mapped_column(sa.String(20))
    phone_national: Mapped[str | None] = mapped_column(ordered_text(20))
    # Reversed national digits: a prefix search here is a suffix search on the
    # number, so 「下4桁」 lookups use an index too.
    phone_national_reversed: Mapped[str | None] = mapped_column(ordered_text(20))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    birthday: Mapped[date | None] = mapped_column(sa.Date)
    memo: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    # 配信停止: the customer asked for no broadcasts; individual chat is unaffected.
    broadcast_opt_out: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, server_default=sa.false()
    )
    broadcast_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Match keys (see normalize.py); LINE linking compares these.
    name_norm: Mapped[str] = mapped_column(ordered_text(120), nullable=False, default="")
    given_name_norm: Mapped[str] = mapped_column(ordered_text(60), nullable=False, default="")
    kana_norm: Mapped[str | None] = mapped_column(ordered_text(120))
    given_kana_norm: Mapped[str | None] = mapped_column(ordered_text(60))

    line_friend = relationship("LineFriend", back_populates="customer", uselist=False, lazy="raise")

    __table_args__ = (
        sa.Index("ix_customers_shop_name_norm", "shop_id", "name_norm"),
        sa.Index("ix_customers_shop_given_name_norm", "shop_id", "given_name_norm"),
        # The name keys ride along (PostgreSQL INCLUDE) so that a broad name search in
        # kana order filters index entries without visiting the table.
        sa.Index(
            "ix_customers_shop_kana_norm", "shop_id", "kana_norm", "id",
            postgresql_include=["name_norm", "given_name_norm", "given_kana_norm"],
        ),
        sa.Index("ix_customers_shop_given_kana_norm", "shop_id", "given_kana_norm"),
        sa.Index("ix_customers_shop_phone_e164", "shop_id", "phone_e164"),
        sa.Index("ix_customers_shop_phone_national", "shop_id", "phone_national"),
        sa.Index("ix_customers_shop_phone_reversed", "shop_id", "phone_national_reversed"),
        sa.Index("ix_customers_shop_created", "shop_id", "created_at", "id"),
        sa.Index("ix_customers_shop_updated", "shop_id", "updated_at", "id"),
    )

    @property
    def full_name(self):
        return f"{self.family_name} {self.given_name}".strip()

    @property
    def full_name_kana(self):
        return f"{self.family_name_kana} {self.given_name_kana}".strip()

    def refresh_match_keys(self):
        """Recompute the normalized columns from the fields as entered."""
        for column, value in match_keys(self.family_name, self.given_name, self.family_name_kana,
                                        self.given_name_kana).items():
            setattr(self, column, value)

    def __repr__(self):
        return f"<Customer {self.id} {self.full_name!r}>"


class Tag(ShopOwnedMixin, TimestampMixin, db.Model):
    """A shop-wide label (タグ) with a colour from tags.PALETTE."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(30), nullable=False)
    colour: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="gray")

    __table_args__ = (sa.UniqueConstraint("shop_id", "name", name="uq_tags_shop_name"),)

    def __repr__(self):
        return f"<Tag {self.id} {self.name!r}>"


class CustomerTag(db.Model):
    """A tag on a customer; shop_id is repeated so a filter by tag stays inside the shop's index range."""

    __tablename__ = "customer_tags"

    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"), nullable=False)

    __table_args__ = (sa.Index("ix_customer_tags_shop_tag", "shop_id", "tag_id", "customer_id"),)


class ImportStatus(enum.StrEnum):
    UPLOADED = "uploaded"  # kept, at the column mapping step
    QUEUED = "queued"  # the owner started it; the first chunk's job is on its way
    RUNNING = "running"
    DONE = "done"  # the report stays; the file's bytes are dropped
    FAILED = "failed"


class CustomerImport(ShopOwnedMixin, TimestampMixin, db.Model):
    """An uploaded CSV kept between upload, column mapping and import, then the import's state and report.

    Any web process may serve each step.  The import runs as jobs of a few thousand rows
    (crm/customers/import_jobs.py); each commits its rows together with `byte_offset` and
    `next_row`, so a lost job resumes where the last commit left off, never twice.
    """

    __tablename__ = "customer_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    encoding: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    row_count: Mapped[int] = mapped_column(nullable=False)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False, deferred=True)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id", ondelete="SET NULL"))
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus), nullable=False,
                                                 default=ImportStatus.UPLOADED, server_default="uploaded")
    # What the owner chose: field → column index, the match key (phone / email), skip or update.
    mapping: Mapped[dict | None] = mapped_column(sa.JSON)
    match_key: Mapped[str | None] = mapped_column(sa.String(8))
    mode: Mapped[str | None] = mapped_column(sa.String(8))
    # Where the next chunk starts: a byte offset into data and the row number there (the header is row 1).
    byte_offset: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0, server_default="0")
    next_row: Mapped[int] = mapped_column(nullable=False, default=1, server_default="1")
    created_count: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    updated_count: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    skipped_count: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def done_count(self) -> int:
        """Data rows handled so far."""
        return self.created_count + self.updated_count + self.skipped_count

    @property
    def in_progress(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)


class CustomerImportSkip(db.Model):
    """A row the import skipped, with its reasons (one a line, in the language of the owner who started it)."""

    __tablename__ = "customer_import_skips"

    import_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_imports.id", ondelete="CASCADE"), primary_key=True)
    row_number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reasons: Mapped[str] = mapped_column(sa.Text, nullable=False)
