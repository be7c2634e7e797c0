"""An upload's body is read as it streams and cut off at its limits (bytes, files), before the
rest is read; malformed bodies are refused in Chinese."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from outreach.portal.streaming import UploadRefused, read_upload

MB = 2**20


async def endpoint(request: Request):
    try:
        upload = await read_upload(
            request.headers.get("content-type", ""), request.stream(), 5 * MB, 3
        )
    except UploadRefused as exc:
        return JSONResponse({"refused": str(exc)}, status_code=413, headers={"connection": "close"})
    return JSONResponse({"files": [[n, len(d)] for n, d in upload.files], "fields": upload.fields})


@pytest.fixture
def client():
    return TestClient(Starlette(routes=[Route("/upload", endpoint, methods=["POST"])]))


def _body(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        out += (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


def test_files_and_fields_come_through_with_chinese_names(client):
    body = _body(
        [
            ("csrf", None, b"tok"),
            ("files", "保城镇台账.xlsx", b"PK" * 10),
            ("files", "二.csv", b"a,b"),
        ]
    )
    got = client.post(
        "/upload", content=body, headers={"content-type": "multipart/form-data; boundary=b0undary"}
    )
    assert got.status_code == 200
    assert got.json() == {
        "files": [["保城镇台账.xlsx", 20], ["二.csv", 3]],
        "fields": {"csrf": "tok"},
    }


def test_an_oversized_upload_is_cut_off_while_it_streams():
    """Through a real uvicorn: the server stops reading at the limit (the test client of
    Starlette would read the whole body before the app sees it)."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Starlette(routes=[Route("/upload", endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    sent = []

    def chunks():
        yield _body([("files", "大.xlsx", b"")])[: -len("\r\n--b0undary--\r\n")]
        for _ in range(200):  # 200 MB offered, 5 MB allowed
            sent.append(1)
            yield b"\0" * MB

    try:
        got = httpx.post(
            f"http://127.0.0.1:{port}/upload",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=b0undary"},
            timeout=30,
        )
        assert got.status_code == 413 and "上限" in got.json()["refused"]
    except httpx.TransportError:
        pass  # the server answered and closed while the client was still sending
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert len(sent) < 50  # it stopped reading at the limit, not after the whole body


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            _body([("files", f"{i}.xlsx", b"x") for i in range(4)]),
            "multipart/form-data; boundary=b0undary",
            "最多",
        ),
        (b"plain text", "text/plain", "上传表单"),
        (b"--b0undary\r\nno headers end", "multipart/form-data; boundary=b0undary", "上传内容"),
        (
            _body([("csrf", None, b"x" * 5000)]),
            "multipart/form-data; boundary=b0undary",
            "格式有误",
        ),
    ],
)
def test_what_is_not_an_upload_is_refused(client, body, content_type, reason):
    got = client.post("/upload", content=body, headers={"content-type": content_type})
    assert got.status_code == 413 and reason in got.json()["refused"]
