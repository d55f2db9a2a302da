"""Request bodies larger than any upload the app takes are refused before they are read.

Django reads a multipart body as soon as anything looks at request.POST, the CSRF check
included, before a view or the login check runs: without this handler a body of several
gigabytes would be spooled to disk first, even for a visitor who is not logged in.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict


def body_limit_bytes() -> int:
    """The largest body taken: the largest data file plus room for the form's other fields."""
    return (settings.IMPORT_UPLOAD_MAX_MB + 1) * 2**20


class BodySizeLimitHandler(FileUploadHandler):
    """First of the upload handlers: a body over the limit is taken as empty, unread. Its CSRF
    token is then missing too, so the request is refused (403); the upload page checks the
    size in the browser first and says so (static/js/upload-size.js)."""

    def handle_raw_input(
        self, input_data: Any, META: dict, content_length: int, boundary: bytes, encoding: str | None = None
    ) -> tuple[QueryDict, MultiValueDict] | None:
        if content_length > body_limit_bytes():
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
