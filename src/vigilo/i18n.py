"""User-facing text in zh-CN (default) and English, picked from Accept-Language or a locale name."""

from __future__ import annotations

from typing import Literal

Locale = Literal["zh-CN", "en"]
DEFAULT_LOCALE: Locale = "zh-CN"

# One entry per stable error code; `{name}` placeholders are filled from the error's params.
MESSAGES: dict[str, dict[Locale, str]] = {
    "not_found": {"zh-CN": "请求的资源不存在", "en": "The requested resource does not exist"},
    "method_not_allowed": {"zh-CN": "不支持该请求方法", "en": "Method not allowed"},
    "invalid_request": {"zh-CN": "请求参数有误：{reason}", "en": "Invalid request: {reason}"},
    "body_too_large": {
        "zh-CN": "请求体过大，上限为 {limit_mb} MB",
        "en": "Request body too large; the limit is {limit_mb} MB",
    },
    "image_unreadable": {
        "zh-CN": "无法识别的图片，请上传 JPEG、PNG 或 WebP",
        "en": "Unreadable image; send JPEG, PNG or WebP",
    },
    "image_too_large": {
        "zh-CN": "图片像素过多（{pixels} 像素，上限 {limit}）",
        "en": "Image has too many pixels ({pixels}, limit {limit})",
    },
    "internal_error": {"zh-CN": "服务器内部错误", "en": "Internal server error"},
    "not_ready": {"zh-CN": "服务尚未就绪：{detail_text}", "en": "Service not ready: {detail_text}"},
    "unauthorized": {"zh-CN": "缺少或无效的 API 密钥", "en": "Missing or invalid API key"},
    "rate_limited": {"zh-CN": "请求过于频繁，请稍后再试", "en": "Too many requests; try again later"},
}


def pick_locale(accept_language: str | None, default: Locale = DEFAULT_LOCALE) -> Locale:
    """First language in an Accept-Language header that we speak; `default` otherwise."""
    if not accept_language:
        return default
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return default


def message(code: str, locale: Locale = DEFAULT_LOCALE, **params: object) -> str:
    """The text for `code` in `locale`; unknown codes fall back to the code itself."""
    texts = MESSAGES.get(code)
    if texts is None:
        return code
    template = texts.get(locale) or texts[DEFAULT_LOCALE]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template
