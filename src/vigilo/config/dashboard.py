"""Configuration of the web dashboard: the `dashboard:` section of `vigilo.yaml`.

Who may log in is set elsewhere: `server.api_keys` (management keys) and `server.admin_password_hash`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class DashboardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = Field(True, description="Serve the dashboard at /dashboard/.")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="A login lasts this long (signed cookie).")
    session_secret: SecretStr | None = Field(
        None,
        description="Key that signs session cookies. Empty: one is generated in <data_dir>/dashboard-session.key "
        "(0600). Set the same value on every API worker behind one load balancer.",
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins allowed per client IP within `login_window_seconds`; then 429."
    )
    login_window_seconds: float = Field(300.0, gt=0, description="The sliding window of `login_max_failures`.")
