"""The dashboard's words, zh-CN (default) and English."""

from __future__ import annotations

from vigilo.i18n import Locale

TEXTS: dict[str, tuple[str, str]] = {  # key: (zh-CN, en)
    "app": ("Vigilo 控制台", "Vigilo dashboard"),
    "nav_overview": ("概览", "Overview"),
    "nav_cameras": ("摄像头", "Cameras"),
    "nav_events": ("事件", "Events"),
    "nav_alerts": ("告警", "Alerts"),
    "nav_charts": ("统计图表", "Charts"),
    "logout": ("退出登录", "Log out"),
    "switch_lang": ("English", "中文"),
    "signed_in_as": ("当前用户：{user}", "Signed in as {user}"),
    # login
    "login_title": ("登录", "Log in"),
    "login_secret": ("管理员密码或管理 API 密钥", "Admin password or management API key"),
    "login_submit": ("登录", "Log in"),
    "login_bad": ("密码或密钥不正确", "Wrong password or key"),
    "login_limited": (
        "登录失败次数过多，请 {minutes} 分钟后再试",
        "Too many failed logins; try again in {minutes} minutes",
    ),
    "login_busy": ("登录请求过多，请稍后再试", "Too many logins at once; try again shortly"),
    "login_csrf": ("表单已过期，请重新提交", "The form expired; please submit it again"),
    "login_expired": ("登录已过期，请重新登录", "Your session ended; please log in again"),
    "denied_title": ("仅限本机访问", "Local access only"),
    "denied_body": (
        "尚未配置 server.api_keys 或 server.admin_password_hash，控制台只允许本机访问。",
        "Neither server.api_keys nor server.admin_password_hash is configured: the dashboard answers this "
        "machine only.",
    ),
    "csrf_title": ("请求被拒绝", "Request refused"),
    "csrf_body": ("表单校验失败（CSRF），请返回页面后重试。", "The form check (CSRF) failed; go back and try again."),
    "not_found": ("不存在", "Not found"),
    "unavailable": ("暂不可用：{reason}", "Unavailable: {reason}"),
    # overview
    "recent_events": ("最近事件", "Recent events"),
    "alert_counts": ("各通道告警数", "Alerts per channel"),
    "no_cameras": ("未配置摄像头（cameras.streams）", "No cameras configured (cameras.streams)"),
    "no_events": ("暂无事件", "No events"),
    "no_channels": ("暂无告警记录", "No alerts yet"),
    "all": ("全部", "All"),
    # cameras
    "camera": ("摄像头", "Camera"),
    "state": ("状态", "State"),
    "fps": ("帧率", "FPS"),
    "lag": ("延迟 (ms)", "Lag (ms)"),
    "last_frame": ("最后一帧", "Last frame"),
    "open_episodes": ("进行中事件", "Open episodes"),
    "error": ("错误", "Error"),
    "actions": ("操作", "Actions"),
    "enable": ("启用", "Enable"),
    "disable": ("停用", "Disable"),
    "state_online": ("在线", "online"),
    "state_offline": ("离线", "offline"),
    "state_disabled": ("已停用", "disabled"),
    "state_starting": ("启动中", "starting"),
    "state_off_schedule": ("非值守时段", "off schedule"),
    "state_finished": ("已结束", "finished"),
    "state_failed": ("启动失败", "failed"),
    "done_camera_enabled": ("摄像头 {name} 已启用", "Camera {name} enabled"),
    "done_camera_disabled": ("摄像头 {name} 已停用", "Camera {name} disabled"),
    # events
    "zone": ("区域", "Zone"),
    "status": ("状态", "Status"),
    "since": ("开始于之后", "Started after"),
    "filter": ("筛选", "Filter"),
    "status_new": ("新", "new"),
    "status_ongoing": ("进行中", "ongoing"),
    "status_ended": ("已结束", "ended"),
    "started": ("开始", "Started"),
    "last_seen": ("最后出现", "Last seen"),
    "ended": ("结束", "Ended"),
    "duration": ("时长", "Duration"),
    "peak_score": ("最高置信度", "Peak score"),
    "phones": ("手机数", "Phones"),
    "snapshot": ("快照", "Snapshot"),
    "no_snapshot": ("无快照", "No snapshot"),
    "clip": ("视频片段", "Clip"),
    "timeline": ("时间线", "Timeline"),
    "event": ("事件 #{id}", "Event #{id}"),
    "details": ("详情", "Details"),
    "severity": ("级别", "Severity"),
    "tracks": ("跟踪编号", "Track ids"),
    "newer": ("← 较新", "← Newer"),
    "older": ("较旧 →", "Older →"),
    "bad_since": ("时间格式不正确：{value}", "Not a date/time: {value}"),
    # alerts
    "channel": ("通道", "Channel"),
    "sent": ("已发送", "Sent"),
    "failed": ("失败次数", "Failed attempts"),
    "retried": ("重试过", "Retried"),
    "suppressed": ("已抑制", "Suppressed"),
    "dead": ("死信", "Dead"),
    "pending": ("待发送", "Pending"),
    "latency": ("延迟 p50/p99 (ms)", "Latency p50/p99 (ms)"),
    "dead_letters": ("死信", "Dead letters"),
    "no_dead": ("没有死信", "No dead letters"),
    "title": ("标题", "Title"),
    "reason": ("原因", "Reason"),
    "created": ("创建时间", "Created"),
    "attempts": ("尝试次数", "Attempts"),
    "retry": ("重试", "Retry"),
    "done_retried": ("告警 {id} 已重新排队", "Alert {id} queued again"),
    "retry_failed": ("无法重试告警 {id}：{reason}", "Cannot retry alert {id}: {reason}"),
    "silences": ("静默规则", "Silences"),
    "no_silences": ("没有生效的静默", "No active silences"),
    "match": ("匹配", "Match"),
    "ends": ("到期", "Expires"),
    "comment": ("备注", "Comment"),
    "by": ("创建人", "By"),
    "expire": ("立即结束", "Expire now"),
    "add_silence": ("新增静默", "Add a silence"),
    "matchers_hint": ("标签匹配，如 camera=room-3, zone=desk", "Label matchers, e.g. camera=room-3, zone=desk"),
    "duration_hint": ("时长，如 30m、2h、1d", "Duration, e.g. 30m, 2h, 1d"),
    "add": ("添加", "Add"),
    "done_silence_added": ("已添加静默 {id}", "Silence {id} added"),
    "done_silence_expired": ("静默 {id} 已结束", "Silence {id} expired"),
    "silence_bad": ("无法添加静默：{reason}", "Cannot add the silence: {reason}"),
    "silence_missing": ("静默 {id} 不存在", "No silence {id}"),
    "active": ("生效中", "active"),
    "scheduled": ("未开始", "scheduled"),
    # charts
    "per_hour": ("近 24 小时每小时事件数", "Events per hour, last 24 h"),
    "per_day": ("近 14 天每天事件数", "Events per day, last 14 days"),
    "total": ("合计 {count}", "Total {count}"),
    "times_local": ("时间为服务器本地时间（{tz}）", "Times in the server's local time ({tz})"),
}


def text(key: str, locale: Locale, **params: object) -> str:
    """The text for `key` in `locale`, placeholders filled; the key itself when unknown."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    template = pair[0] if locale == "zh-CN" else pair[1]
    try:
        return template.format(**params) if params else template
    except (KeyError, IndexError):
        return template
