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
    "alert_not_found": {"zh-CN": "告警投递记录 {id} 不存在", "en": "No alert delivery with id {id}"},
    "alert_not_retryable": {
        "zh-CN": "告警投递记录 {id} 当前状态为 {state}，只有死信可以重试",
        "en": "Alert delivery {id} is {state}; only dead letters can be retried",
    },
    "alerts_unavailable": {"zh-CN": "告警服务不可用：{reason}", "en": "Alert service unavailable: {reason}"},
    "camera_not_found": {"zh-CN": "摄像头 {name} 不存在", "en": "No camera named {name}"},
    "cameras_unavailable": {"zh-CN": "摄像头服务不可用：{reason}", "en": "Cameras unavailable: {reason}"},
    "event_not_found": {"zh-CN": "事件 {id} 不存在", "en": "No event with id {id}"},
    "event_snapshot_missing": {"zh-CN": "事件 {id} 没有快照", "en": "Event {id} has no snapshot"},
    "event_clip_missing": {
        "zh-CN": "事件 {id} 没有视频片段（未开启 events.clips，或事件尚未结束）",
        "en": "Event {id} has no clip (events.clips is off, or the episode has not ended yet)",
    },
    "event_link_invalid": {"zh-CN": "快照链接无效或已过期", "en": "The snapshot link is invalid or has expired"},
    "events_unavailable": {"zh-CN": "事件服务不可用：{reason}", "en": "Events unavailable: {reason}"},
    "management_local_only": {
        "zh-CN": "未配置管理 API 密钥（server.api_keys），仅允许本机访问",
        "en": "No management API keys are configured (server.api_keys): only local requests are allowed",
    },
    "alerts_digest_title": {"zh-CN": "【告警汇总】共 {count} 条", "en": "[Alert digest] {count} alerts"},
    "alerts_digest_more": {"zh-CN": "……另有 {count} 条未列出", "en": "…and {count} more"},
    "alerts_at_all": {"zh-CN": "所有人", "en": "everyone"},
    "alerts_card_button": {"zh-CN": "详情", "en": "More"},
    "alerts_test_title": {"zh-CN": "Vigilo 测试消息", "en": "Vigilo test message"},
    "alerts_test_body": {
        "zh-CN": "这是一条来自 Vigilo 的测试消息（通道 {channel}，{time}）。收到即表示配置正确。",
        "en": "Test message from Vigilo (channel {channel}, {time}): the channel works.",
    },
    # Liveness: hints shown while frames come in.
    "hint_no_face": {"zh-CN": "未检测到人脸", "en": "No face detected"},
    "hint_multiple_faces": {"zh-CN": "请保持单人入镜", "en": "Only one person in view, please"},
    "hint_too_small": {"zh-CN": "请靠近一点", "en": "Move a little closer"},
    "hint_too_dark": {"zh-CN": "光线太暗", "en": "Too dark; find more light"},
    "hint_too_bright": {"zh-CN": "光线太亮", "en": "Too bright; avoid strong light"},
    "hint_blurred": {"zh-CN": "画面模糊，请保持稳定", "en": "Blurred; hold the camera steady"},
    "hint_off_centre": {"zh-CN": "请将脸部移到画面中央", "en": "Centre your face in the frame"},
    "hint_look_straight": {"zh-CN": "请正对镜头", "en": "Look straight at the camera"},
    "hint_hold_still": {"zh-CN": "请保持不动", "en": "Hold still for a moment"},
    "hint_back_to_neutral": {
        "zh-CN": "请先正对镜头，保持自然表情",
        "en": "First face the camera with a neutral expression",
    },
    # Liveness: errors.
    "liveness_session_not_found": {"zh-CN": "活体检测会话不存在", "en": "No such liveness session"},
    "liveness_bad_nonce": {"zh-CN": "会话凭证（nonce）无效", "en": "Invalid session nonce"},
    "liveness_session_busy": {
        "zh-CN": "该会话正在处理其他画面，请稍后重试",
        "en": "The session is busy with other frames; retry shortly",
    },
    "liveness_audit_off": {
        "zh-CN": "未开启活体帧审计存储（liveness.audit.enabled）",
        "en": "Audit storage of liveness frames is off (liveness.audit.enabled)",
    },
    "liveness_audit_frame_not_found": {
        "zh-CN": "审计存储中没有第 {seq} 帧（可能已过期或已删除）",
        "en": "No audited frame {seq} (expired or deleted?)",
    },
    "liveness_audit_unreadable": {
        "zh-CN": "第 {seq} 帧无法用当前配置的密钥解密（密钥已更换或文件损坏）",
        "en": "Frame {seq} cannot be decrypted with the configured keys (key changed or file damaged)",
    },
    "liveness_session_expired": {"zh-CN": "活体检测会话已过期", "en": "The liveness session has expired"},
    "liveness_session_closed": {
        "zh-CN": "活体检测会话已结束（{state}）",
        "en": "The liveness session is over ({state})",
    },
    "liveness_locked": {
        "zh-CN": "失败次数过多，请 {minutes} 分钟后再试",
        "en": "Too many failed attempts; try again in {minutes} min",
    },
    "liveness_seq_not_increasing": {
        "zh-CN": "帧序号必须递增（上一帧为 {last}）",
        "en": "Frame seq must increase (last was {last})",
    },
    "liveness_time_not_increasing": {"zh-CN": "帧拍摄时间必须递增", "en": "Frame captured_at must increase"},
    "liveness_frame_rate": {
        "zh-CN": "帧率过高，上限为每秒 {max_fps} 帧",
        "en": "Too many frames per second; the limit is {max_fps}",
    },
    "liveness_clock_skew": {
        "zh-CN": "帧拍摄时间与服务器时间不符",
        "en": "Frame capture times run ahead of the server clock",
    },
    "liveness_frame_too_large": {
        "zh-CN": "图片过大，上限为 {limit_kb} KB",
        "en": "Frame too large; the limit is {limit_kb} KB",
    },
    "liveness_duplicate_frame": {"zh-CN": "重复的帧已被拒绝", "en": "Duplicate frame refused"},
    "liveness_replayed_frame": {
        "zh-CN": "该帧来自其他会话，已被拒绝",
        "en": "Frame seen in another session; refused",
    },
    "liveness_result_not_ready": {"zh-CN": "活体检测尚未完成", "en": "The liveness check is not finished"},
    "liveness_result_issued": {
        "zh-CN": "该会话的结果已领取过（一次性）",
        "en": "This session's result was already issued (single use)",
    },
    "liveness_invalid_actions": {"zh-CN": "动作列表有误：{reason}", "en": "Invalid actions: {reason}"},
    "liveness_user_mismatch": {
        "zh-CN": "user_id 与身份令牌不一致",
        "en": "user_id does not match the identity token",
    },
    # Liveness: the seed's /api/task/* wording.
    "seed_step_passed": {"zh-CN": "检测成功,进入下一步", "en": "Step passed, on to the next"},
    "seed_passed": {"zh-CN": "活体检测通过", "en": "Liveness check passed"},
    "seed_failed": {"zh-CN": "活体检测未通过，请重试", "en": "Liveness check failed; please try again"},
    "seed_reset": {"zh-CN": "任务已重置", "en": "Task reset"},
    "seed_no_task": {"zh-CN": "暂无进行中的任务", "en": "No task in progress"},
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
