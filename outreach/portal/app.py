"""The portal's web app (FastAPI, server-rendered Chinese pages, no front-end build).

Sign-in with the accounts of ``accounts.py``; a session is a random id in an HttpOnly,
SameSite=Strict cookie (Secure over https), kept server-side, ended by a password change, reset
or disable. Every form carries the session's CSRF token (the sign-in form a double-submit token)
and a POST without it is refused. A first password must be changed before anything else. A unit
uploads workbooks or a zip (read as they stream, cut off at the limit: ``streaming.py``), sees at
once what the night would load and return (``uploads.check``), and submits or drops them; the
account decides the unit folder. 我的报送 lists what the unit sent by any channel (the fetch
ledger) with what the night made of it, and a resent file's changes; 我的清单 and 报送模板 are
the unit's downloads; 账号管理 is the admins'. A unit's account reaches only its own unit's
files: every id or name in a URL is checked against what the account may see, and one that is
not its own is answered as missing. Run by ``python -m outreach.portal`` (``make portal``).
"""

from __future__ import annotations

import html
import secrets
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from ingest.pii import mask_text
from outreach.intake.ledger import INTAKE_STATUS_LABELS
from outreach.portal import lists, uploads
from outreach.portal import submissions as sent
from outreach.portal.accounts import SESSION_COOKIE as COOKIE
from outreach.portal.accounts import AccountError, open_accounts, signed_in
from outreach.portal.streaming import UploadRefused, read_upload
from outreach.settings import Settings

LOGIN_COOKIE = "portal_login"
MAX_UPLOAD_BYTES = 60 * 1024 * 1024


def _e(text: object) -> str:
    """Text from a sender or a file, masked and escaped for the page."""
    return html.escape(mask_text(str(text)))


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} - 报送门户</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}"
        ".bad{color:#a00}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={
            "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
            "x-frame-options": "DENY",
            "cache-control": "no-store",
        },
    )


def _cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(path, name: str) -> FileResponse:
    """A workbook to save, under its Chinese name (RFC 5987), never cached."""
    return FileResponse(
        path,
        media_type=XLSX,
        filename=name,
        headers={"cache-control": "no-store", "x-content-type-options": "nosniff"},
    )


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def session_of(request: Request):
        return signed_in(settings, request.cookies.get(COOKIE))

    def ready(request: Request):
        """(account, csrf, None) for a signed-in account past its first-password change, else
        (None, None, the redirect to sign in or to change the password)."""
        session = session_of(request)
        if session is None:
            return None, None, to_login()
        if session[0].must_change:
            return None, None, RedirectResponse("/password", status_code=303)
        return session[0], session[1], None

    def audit(username: str, event: str, detail: str) -> None:
        accounts = open_accounts(settings)
        try:
            accounts.audit(username, event, detail)
        finally:
            accounts.close()

    def forbidden() -> HTMLResponse:
        return _page("请求被拒绝", "<p>表单已失效或不是从本页面提交的，请返回重新操作。</p>", 403)

    def to_login() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.get("/login")
    def login_form(request: Request, error: str = "") -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        note = f"<p class='bad'>{html.escape(error)}</p>" if error else ""
        response = _page(
            "登录",
            f"{note}<form method='post' action='/login'>"
            f"<input type='hidden' name='csrf' value='{token}'>"
            "<p>用户名 <input name='username' autocomplete='username'></p>"
            "<p>密码 <input name='password' type='password' autocomplete='current-password'></p>"
            "<p><button>登录</button></p></form>",
        )
        _cookie(response, request, LOGIN_COOKIE, token)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        token = request.cookies.get(LOGIN_COOKIE)
        if not token or not secrets.compare_digest(str(form.get("csrf", "")), token):
            return forbidden()
        accounts = open_accounts(settings)
        try:
            result = accounts.sign_in(str(form.get("username", "")), str(form.get("password", "")))
            if result.account is None:
                return login_form(request, result.reason or "登录失败")
            sid, _ = accounts.new_session(result.account.username)
        finally:
            accounts.close()
        response = RedirectResponse("/", status_code=303)
        _cookie(response, request, COOKIE, sid)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = session_of(request)
        form = await request.form()
        if session is None or not secrets.compare_digest(str(form.get("csrf", "")), session[1]):
            return forbidden()
        accounts = open_accounts(settings)
        try:
            accounts.end_session(request.cookies.get(COOKIE))
        finally:
            accounts.close()
        response = to_login()
        response.delete_cookie(COOKIE, path="/")
        return response

    def password_form(csrf: str, error: str = "") -> HTMLResponse:
        note = f"<p class='bad'>{html.escape(error)}</p>" if error else ""
        return _page(
            "修改密码",
            f"{note}<p>首次登录或密码被重置后，须先修改密码。</p>"
            "<form method='post' action='/password'>"
            f"<input type='hidden' name='csrf' value='{csrf}'>"
            "<p>原密码 <input name='old' type='password' autocomplete='current-password'></p>"
            "<p>新密码（至少 10 个字符） <input name='new' type='password' autocomplete='new-password'></p>"
            "<p><button>修改</button></p></form>",
        )

    @app.get("/password")
    def password_page(request: Request) -> Response:
        session = session_of(request)
        return to_login() if session is None else password_form(session[1])

    @app.post("/password")
    async def change_password(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        form = await request.form()
        if not secrets.compare_digest(str(form.get("csrf", "")), session[1]):
            return forbidden()
        accounts = open_accounts(settings)
        try:
            accounts.change_password(
                session[0].username, str(form.get("old", "")), str(form.get("new", ""))
            )
            sid, _ = accounts.new_session(session[0].username)  # the change ended every session
        except AccountError as exc:
            return password_form(session[1], str(exc))
        finally:
            accounts.close()
        response = RedirectResponse("/", status_code=303)
        _cookie(response, request, COOKIE, sid)
        return response

    def submissions_table(account) -> str:
        rows = sent.listed(settings, account)
        if not rows:
            return "<h2>我的报送</h2><p>还没有报送记录。</p>"
        unit_column = "<th>单位</th>" if account.unit is None else ""
        lines = "".join(
            f"<tr><td>{_e(r.fetched_at[:16])}</td>"
            + (f"<td>{_e(r.provider)}/{_e(r.unit or '')}</td>" if account.unit is None else "")
            + f"<td>{_e(r.channel)}</td><td><a href='/submissions/{r.id}'>"
            f"{_e(r.original_name or '（无文件名）')}</a></td><td>{_e(r.outcome)}</td>"
            f"<td>{_e(r.reason or '')}</td></tr>"
            for r in rows
        )
        return (
            f"<h2>我的报送</h2><table><tr><th>收取时间（UTC）</th>{unit_column}<th>渠道</th>"
            f"<th>文件</th><th>结果</th><th>说明</th></tr>{lines}</table>"
        )

    @app.get("/submissions/{submission_id}")
    def submission(request: Request, submission_id: str) -> Response:
        account, _, elsewhere = ready(request)
        if elsewhere is not None:
            return elsewhere
        sub = (
            sent.one(settings, account, int(submission_id))
            if submission_id.isdigit() and len(submission_id) < 12
            else None
        )
        if sub is None:  # another unit's id says no more than one that does not exist
            return _page(
                "没有这条报送", "<p>没有这条报送记录。</p><p><a href='/'>返回</a></p>", 404
            )
        body = (
            f"<p>文件：{_e(sub.original_name or '')}（{_e(sub.channel)}，"
            f"收取于 {_e(sub.fetched_at[:16])} UTC）</p><p>结果：{_e(sub.outcome)}</p>"
            + (f"<p>说明：{_e(sub.reason)}</p>" if sub.reason else "")
        )
        found = sent.changes(settings, sub)
        if found is not None:
            before, diff = found
            body += f"<h2>与上一版本（{_e(before.fetched_at[:16])} UTC 收取）相比</h2>"
            body += diff_html(diff)
        return _page("报送详情", body + "<p><a href='/'>返回</a></p>")

    def diff_html(diff) -> str:
        parts = [f"<p class='bad'>{_e(diff.problem)}</p>"] if diff.problem else []
        parts.append(
            f"<p>新增 {len(diff.added)} 行，删除 {len(diff.removed)} 行，"
            f"修改 {len(diff.changed)} 行，未变 {diff.unchanged} 行。</p>"
        )
        for title, rows in (("新增的行", diff.added), ("删除的行", diff.removed)):
            if rows:
                items = "".join(f"<li>{_e(r.dataset)}：{_e(r.key)}</li>" for r in rows)
                parts.append(f"<h3>{title}</h3><ul>{items}</ul>")
        if diff.changed:
            lines = "".join(
                f"<tr><td>{_e(r.dataset)}</td><td>{_e(r.key)}</td><td>{_e(h)}</td>"
                f"<td>{_e(a)}</td><td>{_e(b)}</td></tr>"
                for r in diff.changed
                for h, a, b in r.columns
            )
            parts.append(
                "<h3>修改的行</h3><table><tr><th>数据集</th><th>行（按唯一键）</th><th>列</th>"
                f"<th>原值</th><th>新值</th></tr>{lines}</table>"
            )
        return "".join(parts)

    @app.get("/")
    def home(request: Request) -> Response:
        account, csrf, elsewhere = ready(request)
        if elsewhere is not None:
            return elsewhere
        upload = (
            ""
            if account.unit is None
            else "<h2>上传报送文件</h2><form method='post' action='/upload' enctype='multipart/form-data'>"
            f"<input type='hidden' name='csrf' value='{csrf}'>"
            "<p><input type='file' name='files' multiple></p><p><button>检查</button></p></form>"
        )
        unit = "组织部管理员" if account.unit is None else _e(account.unit.inbox_rel)
        links = ["<a href='/lists'>我的清单</a>", "<a href='/templates'>报送模板</a>"]
        if account.is_admin:
            host = request.url.hostname or "127.0.0.1"
            host = f"[{host}]" if ":" in host else host
            links += [
                "<a href='/admin'>账号管理</a>",
                f"<a href='{request.url.scheme}://{host}:{settings.dashboard_port}/'>工作看板</a>",
            ]
        return _page(
            "报送门户",
            f"<p>{_e(account.username)}（{unit}）</p><p>{' · '.join(links)}</p>"
            f"{upload}{submissions_table(account)}"
            f"<form method='post' action='/logout'><input type='hidden' name='csrf' value='{csrf}'>"
            "<button>退出</button></form>",
        )

    def check_page(check: uploads.UploadCheck, csrf: str) -> HTMLResponse:
        parts = []
        for name, file in check.files:
            if not file.readable:
                parts.append(
                    f"<h3>{_e(name)}</h3><p class='bad'>无法读取：{_e(file.problem)}"
                    "（不会提交）</p>"
                )
                continue
            sheets = "".join(
                f"<li>工作表“{_e(s.sheet)}”识别为“{_e(s.dataset_name)}”：可加载 {s.rows_ok} 行，"
                f"退回 {s.rows_returned} 行</li>"
                for s in file.sheets
            ) + "".join(
                f"<li class='bad'>工作表“{_e(s)}”未能识别，不会读取</li>" for s, _ in file.unmatched
            )
            returned = "".join(
                f"<tr><td>{_e(r.sheet)}</td><td>{r.row_number}</td><td>{_e(r.column)}</td>"
                f"<td>{_e(r.problem)}</td></tr>"
                for r in file.returned
            )
            table = (
                "<table><tr><th>工作表</th><th>行</th><th>列</th><th>问题</th></tr>"
                f"{returned}</table>"
                if returned
                else ""
            )
            parts.append(f"<h3>{_e(name)}</h3><ul>{sheets}</ul>{table}")
        for r in check.refused:
            shown = f"{r.inside}/{r.name}" if r.inside else r.name
            parts.append(f"<h3>{_e(shown)}</h3><p class='bad'>不接收：{_e(r.reason)}</p>")
        if check.has_return_list:
            parts.append(
                f"<p><a href='/upload/{check.token}/return-list'>下载退回清单（xlsx）</a>"
                "：逐行列出问题和修改方法，改正后重新上传。</p>"
            )
        actions = (
            f"<form method='post' action='/submit'><input type='hidden' name='csrf' value='{csrf}'>"
            f"<input type='hidden' name='token' value='{check.token}'><button>提交报送</button></form>"
            f"<form method='post' action='/drop'><input type='hidden' name='csrf' value='{csrf}'>"
            f"<input type='hidden' name='token' value='{check.token}'><button>先改正，不提交</button></form>"
            if check.can_submit
            else "<p><a href='/'>返回</a></p>"
        )
        return _page("检查结果", "".join(parts) + actions)

    @app.post("/upload")
    async def upload(request: Request) -> Response:
        account, csrf, elsewhere = ready(request)
        if elsewhere is not None:
            return elsewhere
        try:
            body = await read_upload(
                request.headers.get("content-type", ""),
                request.stream(),
                MAX_UPLOAD_BYTES,
                uploads.MAX_FILES,
            )
        except UploadRefused as exc:
            response = _page("上传未完成", f"<p class='bad'>{html.escape(str(exc))}</p>", 413)
            response.headers["connection"] = "close"
            return response
        if not secrets.compare_digest(body.fields.get("csrf", ""), csrf):
            return forbidden()
        if not body.files:
            return _page(
                "上传未完成", "<p class='bad'>没有选择文件。</p><p><a href='/'>返回</a></p>", 400
            )
        try:
            check = uploads.check(settings, account, body.files)
        except uploads.UploadError as exc:
            return _page("上传未完成", f"<p class='bad'>{html.escape(str(exc))}</p>", 400)
        audit(account.username, "uploaded", ", ".join(mask_text(n) for n, _ in body.files))
        return check_page(check, csrf)

    @app.get("/lists")
    def lists_page(request: Request) -> Response:
        account, _, elsewhere = ready(request)
        if elsewhere is not None:
            return elsewhere
        files = lists.available(settings, account)
        items = "".join(f"<li><a href='/lists/{quote(name)}'>{_e(name)}</a></li>" for name in files)
        body = (
            f"<h2>最近一次夜间入库的清单</h2><ul>{items}</ul>"
            if files
            else "<h2>最近一次夜间入库的清单</h2><p>没有需要处理的清单。</p>"
        )
        rows = lists.coverage(settings, account)
        if rows:
            lines = "".join(
                f"<tr><td>{_e(c.quarter)}</td><td>{c.owed}</td><td>{c.met}</td>"
                f"<td>{c.missed}</td><td>{c.rate}</td></tr>"
                for c in rows
            )
            whose = "全县" if account.unit is None else _e(account.unit.label)
            body += (
                f"<h2>{whose}季度走访覆盖</h2><table><tr><th>季度</th><th>应走访户季</th>"
                f"<th>已走访</th><th>未走访</th><th>完成率</th></tr>{lines}</table>"
            )
        return _page("我的清单", body + "<p><a href='/'>返回</a></p>")

    @app.get("/lists/{name}")
    def list_download(request: Request, name: str) -> Response:
        account, _, elsewhere = ready(request)
        if elsewhere is not None:
            return elsewhere
        path = lists.available(settings, account).get(name)  # only the account's own lists
        if path is None:
            return _page(
                "没有这份清单", "<p>没有这份清单。</p><p><a href='/lists'>返回</a></p>", 404
            )
        audit(account.username, "downloaded", name)
        return _download(path, name)

    def admin_only(request: Request):
        account, csrf, elsewhere = ready(request)
        if elsewhere is None and not account.is_admin:
            elsewhere = _page("无权访问", "<p>此页面仅对县委组织部管理员开放。</p>", 403)
        return account, csrf, elsewhere

    @app.get("/admin")
    def admin_page(request: Request) -> Response:
        account, csrf, elsewhere = admin_only(request)
        if elsewhere is not None:
            return elsewhere
        accounts = open_accounts(settings)
        try:
            every, log = accounts.list(), accounts.audit_log()[-200:]
        finally:
            accounts.close()

        def action(path: str, username: str, label: str) -> str:
            return (
                f"<form method='post' action='/admin/{path}' style='display:inline'>"
                f"<input type='hidden' name='csrf' value='{csrf}'>"
                f"<input type='hidden' name='username' value='{_e(username)}'>"
                f"<button>{label}</button></form>"
            )

        rows = "".join(
            f"<tr><td>{_e(a.username)}</td><td>{'管理员' if a.is_admin else '报送单位'}</td>"
            f"<td>{_e(a.unit.inbox_rel) if a.unit else ''}</td>"
            f"<td>{'停用' if a.disabled else ('待改密码' if a.must_change else '正常')}</td>"
            f"<td>{action('reset', a.username, '重置密码')}"
            f"{'' if a.disabled or a.username == account.username else action('disable', a.username, '停用')}"
            "</td></tr>"
            for a in every
        )
        providers = "".join(
            f"<option value='{p}'>{label}</option>"
            for p, label in (
                ("townships", "乡镇"),
                ("joint_branches", "联合党支部"),
                ("enterprises", "企业"),
                ("county", "组织部（报送）"),
            )
        )
        events = "".join(
            f"<tr><td>{_e(at)}</td><td>{_e(who)}</td><td>{_e(event)}</td><td>{_e(detail or '')}</td></tr>"
            for at, who, event, detail in reversed(log)
        )
        return _page(
            "账号管理",
            "<h2>账号</h2><table><tr><th>用户名</th><th>角色</th><th>报送单位</th><th>状态</th>"
            f"<th>操作</th></tr>{rows}</table>"
            "<h2>新增账号</h2><form method='post' action='/admin/add'>"
            f"<input type='hidden' name='csrf' value='{csrf}'>"
            "<p>用户名 <input name='username'> 角色 <select name='role'>"
            "<option value='unit'>报送单位</option><option value='admin'>管理员</option></select></p>"
            f"<p>报送方 <select name='provider'>{providers}</select> "
            "单位（乡镇名，或 乡镇/支部名，或企业名） <input name='unit'></p>"
            "<p><button>新增</button></p></form>"
            "<h2>操作记录（最近 200 条）</h2><table><tr><th>时间（UTC）</th><th>账号</th>"
            f"<th>事件</th><th>说明</th></tr>{events}</table><p><a href='/'>返回</a></p>",
        )

    @app.post("/admin/{what}")
    async def admin_change(request: Request, what: str) -> Response:
        account, csrf, elsewhere = admin_only(request)
        if elsewhere is not None:
            return elsewhere
        form = await request.form()
        if not secrets.compare_digest(str(form.get("csrf", "")), csrf):
            return forbidden()
        username = str(form.get("username", ""))
        accounts = open_accounts(settings)
        try:
            if what == "add":
                role = str(form.get("role", ""))
                unit = (str(form.get("provider", "")), str(form.get("unit", "")).strip())
                provider, unit_name = unit if role == "unit" else (None, None)
                password = accounts.add(username, role, provider, unit_name or None)
                done = f"已新增账号 {username}"
            elif what == "reset":
                password, done = accounts.reset(username), f"已重置 {username} 的密码"
            elif what == "disable" and username.strip().lower() != account.username:
                accounts.disable(username)
                password, done = None, f"已停用账号 {username}"
            else:
                return _page(
                    "操作未完成", "<p>不能这样操作。</p><p><a href='/admin'>返回</a></p>", 400
                )
            accounts.audit(account.username, f"admin_{what}", username)
        except AccountError as exc:
            return _page(
                "操作未完成", f"<p class='bad'>{_e(exc)}</p><p><a href='/admin'>返回</a></p>", 400
            )
        finally:
            accounts.close()
        shown = (
            f"<p>初始密码（只显示这一次，请当面或电话告知，首次登录须修改）：<code>{html.escape(password)}</code></p>"
            if password
            else ""
        )
        return _page("账号管理", f"<p>{_e(done)}</p>{shown}<p><a href='/admin'>返回</a></p>")

    @app.get("/templates")
    def templates_page(request: Request) -> Response:
        account, _, elsewhere = ready(request)
        if elsewhere is not None:
            return elsewhere
        items = "".join(
            f"<li><a href='/templates/{quote(name)}'>{_e(name)}</a></li>"
            for name in lists.templates(account)
        )
        return _page(
            "报送模板",
            "<p>按模板填写可避免大部分退回；带 * 的列必填，下拉列表列请从列表中选择。</p>"
            f"<ul>{items}</ul><p><a href='/'>返回</a></p>",
        )

    @app.get("/templates/{name}")
    def template_download(request: Request, name: str) -> Response:
        account, _, elsewhere = ready(request)
        if elsewhere is not None:
            return elsewhere
        data = lists.template_bytes(settings, account, name)
        if data is None:
            return _page(
                "没有这个模板", "<p>没有这个模板。</p><p><a href='/templates'>返回</a></p>", 404
            )
        return Response(
            data,
            media_type=XLSX,
            headers={
                "content-disposition": f"attachment; filename*=utf-8''{quote(name)}",
                "cache-control": "no-store",
                "x-content-type-options": "nosniff",
            },
        )

    @app.get("/upload/{token}/return-list")
    def upload_return_list(request: Request, token: str) -> Response:
        account, _, elsewhere = ready(request)
        if elsewhere is not None:
            return elsewhere
        try:
            path = uploads.return_list_path(settings, account, token)
        except uploads.UploadError:
            path = None
        if path is None:
            return _page("没有这份清单", "<p>这次上传没有退回清单，或已提交、已失效。</p>", 404)
        return _download(path, "退回清单.xlsx")

    async def _token_form(request: Request):
        account, csrf, elsewhere = ready(request)
        if elsewhere is not None:
            return None, None, elsewhere
        form = await request.form()
        if not secrets.compare_digest(str(form.get("csrf", "")), csrf):
            return None, None, forbidden()
        return account, str(form.get("token", "")), None

    @app.post("/submit")
    async def submit(request: Request) -> Response:
        account, token, refused = await _token_form(request)
        if refused is not None:
            return refused
        try:
            entries = uploads.submit(settings, account, token)
        except uploads.UploadError as exc:
            return _page("提交未完成", f"<p class='bad'>{html.escape(str(exc))}</p>", 404)
        audit(account.username, "submitted", ", ".join(e.landed_path or "" for e in entries))
        lines = "".join(
            f"<li>{_e(e.original_name)}：{_e(INTAKE_STATUS_LABELS.get(e.status, e.status))}"
            f"{'（' + _e(e.reason) + '）' if e.reason else ''}</li>"
            for e in entries
        )
        return _page("已提交", f"<ul>{lines}</ul><p>今晚入库。</p><p><a href='/'>返回</a></p>")

    @app.post("/drop")
    async def drop(request: Request) -> Response:
        account, token, refused = await _token_form(request)
        if refused is not None:
            return refused
        try:
            uploads.drop(settings, account, token)
        except uploads.UploadError as exc:
            return _page("操作未完成", f"<p class='bad'>{html.escape(str(exc))}</p>", 404)
        return RedirectResponse("/", status_code=303)

    return app
