"""One-line channel URLs, e.g. `dingtalk://TOKEN?secret=SEC...`, parsed into typed channel configs.

Syntax (docs/alerts.md has the full table); reserved characters inside values (`&`, `#`, `%`,
`/`, `?`, `@`, `:`) are percent-encoded; `+` is a literal plus, not a space:

    dingtalk://TOKEN?secret=SEC...&keyword=告警&format=markdown|text
    wecombot://KEY?format=markdown|text
    wecom://CORPID:SECRET@AGENTID?touser=u1|u2&toparty=1|2&totag=3&format=text|markdown|textcard
    feishu://HOOK_TOKEN?secret=...&keyword=...&format=interactive|post|text    (lark:// the same)
    webhook+https://host/path?their=query#secret=...&include_snapshot=true&header.Authorization=Bearer%20x
    mailto://USER:PASSWORD@smtp.example.com:465?to=a@x.cn,b@x.cn&from=vigilo@x.cn&security=ssl
    apprise+tgram://bottoken/chatid      (anything Apprise understands, after `apprise+`)

Every scheme also takes `base_url=` and `timeout_s=`. Error messages name the problem, never a value.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import TypeAdapter, ValidationError

from vigilo.config.alerts import ChannelConfig

_ADAPTER: TypeAdapter[Any] = TypeAdapter(ChannelConfig)
_COMMON = {"base_url", "timeout_s"}


def _params(query: str) -> dict[str, str]:
    # Hand-split rather than parse_qs: parse_qs turns `+` into a space, which breaks base64-ish secrets.
    out: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out[unquote(key)] = unquote(value)
    return out


def _take(params: dict[str, str], allowed: set[str], scheme: str) -> dict[str, Any]:
    unknown = sorted(set(params) - allowed - _COMMON)
    if unknown:
        raise ValueError(f"{scheme}:// URL has unknown option(s): {', '.join(unknown)}")
    return {k: v for k, v in params.items() if v != ""}


def _split_list(value: str | None, sep: str = "|") -> list[str]:
    return [item.strip() for item in (value or "").split(sep) if item.strip()]


def parse_channel_url(url: str) -> Any:
    """The typed channel config (a `vigilo.config.alerts` model) for a channel URL.

    Raises ValueError with a message that contains no part of the URL's credentials.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("a channel URL looks like scheme://... (dingtalk, wecombot, wecom, feishu, ...)")
    scheme = scheme.lower()
    if scheme.startswith("apprise+"):
        return _validate({"type": "apprise", "url": url[len("apprise+") :]})
    if scheme.startswith("webhook+"):
        return _webhook(url[len("webhook+") :])
    netloc, _, query = rest.partition("?")
    netloc = netloc.rstrip("/")
    params = _params(query)
    data: dict[str, Any]
    if scheme == "dingtalk":
        data = {"type": "dingtalk", "access_token": unquote(netloc)}
        data |= _take(params, {"secret", "keyword", "format"}, scheme)
    elif scheme == "wecombot":
        data = {"type": "wecom_bot", "key": unquote(netloc)}
        data |= _take(params, {"format"}, scheme)
    elif scheme in ("feishu", "lark"):
        data = {"type": scheme, "hook": unquote(netloc)}
        data |= _take(params, {"secret", "keyword", "format"}, scheme)
    elif scheme == "wecom":
        creds, at, agent = netloc.rpartition("@")
        corp_id, colon, secret = creds.partition(":")
        if not at or not colon or not corp_id or not secret:
            raise ValueError("wecom:// URL must look like wecom://CORPID:SECRET@AGENTID")
        if not agent.isdigit():
            raise ValueError("wecom:// URL: the agent id after @ must be a number")
        data = {"type": "wecom", "corp_id": unquote(corp_id), "secret": unquote(secret), "agent_id": int(agent)}
        opts = _take(
            params, {"touser", "toparty", "totag", "format", "card_url", "duplicate_check_interval", "safe"}, scheme
        )
        for key in ("touser", "toparty", "totag"):
            if key in opts:
                opts[key] = _split_list(opts[key])
        data |= opts
    elif scheme in ("mailto", "mailtos"):
        data = _mail(scheme, netloc, params)
    else:
        raise ValueError(f"unknown channel URL scheme {scheme!r}")
    if scheme in ("dingtalk", "wecombot", "feishu", "lark") and not netloc:
        raise ValueError(f"{scheme}:// URL has no token")
    return _validate(data)


def _validate(data: dict[str, Any]) -> Any:
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        # Re-worded without `input_value`, which would echo the secrets back.
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "channel"
        raise ValueError(f"{data.get('type')} channel URL: {where}: {first['msg']}") from None


def _mail(scheme: str, netloc: str, params: dict[str, str]) -> dict[str, Any]:
    creds, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    if not host:
        raise ValueError(f"{scheme}:// URL has no SMTP host")
    data: dict[str, Any] = {"type": "email", "host": host}
    if colon:
        if not port.isdigit():
            raise ValueError(f"{scheme}:// URL: the port must be a number")
        data["port"] = int(port)
    if at:
        user, _, password = creds.partition(":")
        data["username"] = unquote(user) or None
        data["password"] = unquote(password) or None
    opts = _take(params, {"to", "from", "security"}, scheme)
    if "to" not in opts:
        raise ValueError(f"{scheme}:// URL needs to=address[,address...]")
    data["to"] = _split_list(opts.pop("to"), ",")
    if "from" in opts:
        data["from_addr"] = opts.pop("from")
    elif data.get("username") and "@" in data["username"]:
        data["from_addr"] = data["username"]
    else:
        raise ValueError(f"{scheme}:// URL needs from=address (or a user name that is an address)")
    data["security"] = opts.pop("security", "ssl" if scheme == "mailtos" else "starttls")
    return data | opts


def _webhook(target: str) -> Any:
    base, _, fragment = target.partition("#")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("webhook URL must be webhook+http://... or webhook+https://...")
    params = _params(fragment)
    headers = {k[len("header.") :]: v for k, v in params.items() if k.startswith("header.")}
    opts = _take(
        {k: v for k, v in params.items() if not k.startswith("header.")}, {"secret", "include_snapshot"}, "webhook"
    )
    data: dict[str, Any] = {"type": "webhook", "url": base, "headers": headers, **opts}
    return _validate(data)
