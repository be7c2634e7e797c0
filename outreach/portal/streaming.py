"""Reading an upload from a request body as it streams, with its limits enforced on the way.

Starlette's ``request.form()`` bounds the number of parts but reads any size to its spool files;
a unit's upload must be cut off as soon as it passes the limit, before it is all on disk or in
memory. This parser reads ``request.stream()`` chunk by chunk through python-multipart's
streaming parser and raises :class:`UploadRefused` (with the reason in Chinese) the moment the
body exceeds ``max_bytes``, a file part appears beyond ``max_files``, or a part is malformed.
Text fields (the CSRF token) are kept, small, as text. Answer a refusal with
``Connection: close``: the server then closes the connection instead of reading (and discarding)
the rest of the body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 4096


class UploadRefused(ValueError):
    """The body is refused as it streams; the message is for the person who sent it."""


@dataclass
class Upload:
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, bytes)
    fields: dict[str, str] = field(default_factory=dict)


async def read_upload(
    content_type: str, chunks: AsyncIterator[bytes], max_bytes: int, max_files: int
) -> Upload:
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused("请用页面上的上传表单提交文件")
    upload = Upload()
    part: dict = {}

    def on_part_begin() -> None:
        part.clear()
        part.update(headers={}, name=None, filename=None, data=bytearray(), header=b"", value=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part["header"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part["value"] += data[start:end]

    def on_header_end() -> None:
        part["headers"][part["header"].lower()] = part["value"]
        part["header"], part["value"] = b"", b""

    def on_headers_finished() -> None:
        disposition = part["headers"].get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name")
        if name is None:
            raise UploadRefused("上传内容格式有误")
        part["name"] = name.decode("utf-8", errors="replace")
        filename = options.get(b"filename")
        if filename is not None:
            if len(upload.files) >= max_files:
                raise UploadRefused(f"一次最多上传 {max_files} 个文件")
            part["filename"] = filename.decode("utf-8", errors="replace")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part["data"] += data[start:end]
        if part["filename"] is None and len(part["data"]) > MAX_FIELD_BYTES:
            raise UploadRefused("上传内容格式有误")

    def on_part_end() -> None:
        if part["filename"] is not None:
            if part["filename"] or part["data"]:  # a file input left empty sends neither
                upload.files.append((part["filename"], bytes(part["data"])))
        else:
            upload.fields[part["name"]] = part["data"].decode("utf-8", errors="replace")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > max_bytes:
            raise UploadRefused(
                f"上传超过 {max_bytes // 2**20} MB 上限，已中止；请分次上传或删去多余内容"
            )
        try:
            parser.write(chunk)
        except UploadRefused:
            raise
        except Exception as exc:  # python-multipart's own errors: a malformed body
            raise UploadRefused("上传内容格式有误") from exc
    try:
        parser.finalize()
    except Exception as exc:
        raise UploadRefused("上传内容不完整") from exc
    return upload
