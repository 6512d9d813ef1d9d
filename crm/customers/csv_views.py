"""The ledger's CSV: export (CSV or Excel) and import (upload, column mapping with a preview, report). Owner only."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from crm.customers import blueprint, csv_export, csv_import, csv_io, import_jobs
from crm.customers.forms import ImportUploadForm
from crm.customers.models import CustomerImport, ImportStatus
from crm.database import get_for_shop_or_404, utcnow
from crm.extensions import db
from crm.staff.decorators import owner_required
from crm.staff.forms import ConfirmForm

# An upload left at the mapping step, or an import's report, is dropped after this long.
IMPORT_KEPT = timedelta(days=1)


@blueprint.url_value_preprocessor
def _larger_body_for_the_upload(endpoint, values):
    # Runs before CSRFProtect reads the form: only the CSV upload may exceed the app-wide
    # MAX_CONTENT_LENGTH, by the file limit and room for the form around it.
    if endpoint == "customers.import_upload":
        request.max_content_length = current_app.config["CUSTOMER_IMPORT_MAX_BYTES"] + 64 * 1024


def _today():
    return datetime.now(ZoneInfo(current_user.shop.timezone)).date()


@blueprint.get("/export")
@owner_required
def export_page():
    """The export choices: CSV (UTF-8 with BOM or Shift_JIS) and Excel."""
    return render_template("customers/export.html")


@blueprint.get("/export.<any(csv, xlsx):kind>")
@owner_required
def export_download(kind):
    """The whole ledger: 氏名, フリガナ, 電話, メール, 誕生日, タグ, メモ."""
    stem = f"customers-{current_user.shop_id}-{_today():%Y%m%d}"
    if kind == "csv":
        encoding = "cp932" if request.args.get("encoding") == "cp932" else "utf-8"
        charset = "shift_jis" if encoding == "cp932" else "utf-8"
        response = Response(stream_with_context(csv_export.csv_chunks(current_user.shop_id, encoding)),
                            mimetype="text/csv")
        response.headers["Content-Type"] = f"text/csv; charset={charset}"
        filename = f"{stem}{'-sjis' if encoding == 'cp932' else ''}.csv"
    else:
        response = Response(csv_export.xlsx_bytes(current_user.shop_id),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        filename = f"{stem}.xlsx"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.route("/import", methods=["GET", "POST"])
@owner_required
def import_upload():
    """Step 1: choose the CSV; its encoding is detected and its rows counted."""
    form = ImportUploadForm()
    if form.validate_on_submit():
        config = current_app.config
        upload = form.file.data
        try:
            data = csv_io.without_stray_bom(csv_io.read_upload(upload.stream, config["CUSTOMER_IMPORT_MAX_BYTES"]))
            encoding = csv_io.detect_encoding(data)
            _header, count = csv_io.inspect(data, encoding, config["CUSTOMER_IMPORT_MAX_ROWS"])
        except csv_io.ImportFileError as exc:
            form.file.errors.append(str(exc))
        else:
            db.session.execute(sa.delete(CustomerImport).where(
                CustomerImport.shop_id == current_user.shop_id, CustomerImport.created_at < utcnow() - IMPORT_KEPT,
                CustomerImport.status.not_in([ImportStatus.QUEUED, ImportStatus.RUNNING]),
            ))
            kept = CustomerImport(shop_id=current_user.shop_id, staff_id=current_user.id, data=data,
                                  filename=(upload.filename or "customers.csv")[:255], encoding=encoding,
                                  row_count=count)
            db.session.add(kept)
            db.session.flush()
            return redirect(url_for("customers.import_mapping", import_id=kept.id))
    status = 422 if request.method == "POST" else 200
    return render_template("customers/import_upload.html", form=form,
                           max_mb=current_app.config["CUSTOMER_IMPORT_MAX_BYTES"] // (1024 * 1024),
                           max_rows=current_app.config["CUSTOMER_IMPORT_MAX_ROWS"]), status


def _chosen(header, form):
    """The mapping, key and mode the owner chose (or guessed from the header), and what is wrong with them."""
    if "key" not in form:
        mapping = csv_io.guess_mapping(header)
        key = "phone" if mapping["phone"] is not None or mapping["email"] is None else "email"
        return mapping, key, "skip", []
    mapping, errors = {}, []
    for name in csv_io.FIELDS:
        raw = form.get(f"map_{name}", "")
        mapping[name] = int(raw) if raw.isdigit() and int(raw) < len(header) else None
    key = form.get("key") if form.get("key") in csv_import.KEYS else "phone"
    mode = form.get("mode") if form.get("mode") in csv_import.MODES else "skip"
    if mapping["name"] is None:
        errors.append(_("「氏名」の列を選んでください。"))
    if mapping[key] is None:
        errors.append(_("照合に使う「%(field)s」の列を選んでください。", field=csv_io.FIELD_LABELS[key]))
    used = [i for i in mapping.values() if i is not None]
    if len(used) != len(set(used)):
        errors.append(_("同じ列を二つの項目に割り当てることはできません。"))
    return mapping, key, mode, errors


@blueprint.route("/import/<int:import_id>", methods=["GET", "POST"])
@owner_required
def import_mapping(import_id):
    """Step 2: map the columns, choose the key and mode, preview; then start the import. Later: its progress or report."""
    kept = get_for_shop_or_404(CustomerImport, import_id)
    if kept.status != ImportStatus.UPLOADED:
        if request.method == "POST":  # started already (a second click): one import per upload
            return redirect(url_for("customers.import_mapping", import_id=kept.id))
        return _progress_or_report(kept, fragment=False)
    header, rows = import_jobs.file_start(kept)
    mapping, key, mode, errors = _chosen(header, request.form if request.method == "POST" else {})
    if request.method == "POST" and request.form.get("action") == "run" and not errors:
        import_jobs.start(kept, mapping, key, mode)
        return redirect(url_for("customers.import_mapping", import_id=kept.id))
    preview = [] if errors else csv_import.preview(current_user.shop_id, rows, mapping, key, mode,
                                                     current_app.config["DEFAULT_PHONE_REGION"], _today())
    return render_template("customers/import_mapping.html", kept=kept, header=header, mapping=mapping, key=key,
                           mode=mode, errors=errors, rows=preview, fields=csv_io.FIELDS, labels=csv_io.FIELD_LABELS,
                           cancel_form=ConfirmForm()), (422 if errors else 200)


def _progress_or_report(kept, fragment):
    """The import's progress while it runs (polling itself), then its report: a page, or the fragment HTMX swaps in."""
    prefix = "_" if fragment else ""
    if kept.in_progress:
        import_jobs.resume_stalled(kept)
        return render_template(f"customers/{prefix}import_progress.html", kept=kept)
    return render_template(f"customers/{prefix}import_report.html", kept=kept,
                           skipped=import_jobs.skipped_rows(kept, import_jobs.SKIPS_SHOWN))


@blueprint.get("/import/<int:import_id>/progress")
@owner_required
def import_progress(import_id):
    """The progress fragment the import page polls (HTMX); once finished, the report in its place."""
    kept = get_for_shop_or_404(CustomerImport, import_id)
    if kept.status == ImportStatus.UPLOADED:
        return redirect(url_for("customers.import_mapping", import_id=kept.id))
    return _progress_or_report(kept, fragment=True)


@blueprint.get("/import/<int:import_id>/skipped.csv")
@owner_required
def import_skipped_csv(import_id):
    """Every skipped row with its reasons (UTF-8 with BOM, as Excel opens it)."""
    kept = get_for_shop_or_404(CustomerImport, import_id)
    chunks = csv_export.skipped_csv_chunks(csv_export.skipped_csv_header(), import_jobs.skipped_chunks(kept.id))
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="import-{kept.id}-skipped.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.post("/import/<int:import_id>/cancel")
@owner_required
def import_cancel(import_id):
    """Drop an upload without importing."""
    kept = get_for_shop_or_404(CustomerImport, import_id)
    ConfirmForm().validate_on_submit()
    if kept.status != ImportStatus.UPLOADED:  # started: it runs to its report
        return redirect(url_for("customers.import_mapping", import_id=kept.id))
    db.session.delete(kept)
    flash(_("取り込みを中止しました。"), "success")
    return redirect(url_for("customers.index"))
