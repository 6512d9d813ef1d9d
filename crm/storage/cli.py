"""`flask --app wsgi crm check-storage`: can this process write, read and delete media where MEDIA_STORAGE says?"""
import click
from flask.cli import with_appcontext

from crm.storage import StorageError, get_storage


@click.command("check-storage")
@with_appcontext
def check_storage_command():
    """Check the media storage (MEDIA_STORAGE, MEDIA_STORAGE_DIR or S3_*); one line, exit 1 naming the variable to fix."""
    try:
        storage = get_storage()
        storage.check()
    except StorageError as exc:
        click.echo(f"media storage: {exc}", err=True)
        raise SystemExit(1) from None
    where = storage.root if storage.name == "local" else f"s3://{storage.bucket}/{storage.prefix}"
    click.echo(f"media storage ok: {storage.name} {where}")
