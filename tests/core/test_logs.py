import io
import logging

from vigilo.logs import JsonFormatter, RedactingFilter


def capture(filter_: RedactingFilter, fmt: logging.Formatter | None = None) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(filter_)
    if fmt:
        handler.setFormatter(fmt)
    logger = logging.getLogger(f"test-{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_known_secrets_and_credential_parameters_are_redacted() -> None:
    logger, stream = capture(RedactingFilter(["s3cr3t-corp-secret"]))
    logger.info("gettoken with %s", "s3cr3t-corp-secret")
    logger.info("POST https://oapi.example/robot/send?access_token=abcdef123456&timestamp=1&sign=xyz%2B")
    try:
        raise ValueError("failed with corpsecret=s3cr3t-corp-secret")
    except ValueError:
        logger.exception("boom")
    text = stream.getvalue()
    assert "s3cr3t-corp-secret" not in text
    assert "abcdef123456" not in text and "xyz%2B" not in text
    assert "access_token=***" in text and "timestamp=1" in text
    assert "ValueError" in text  # the traceback is kept, only redacted


def test_json_format_is_one_object_per_line() -> None:
    import json

    logger, stream = capture(RedactingFilter(), JsonFormatter())
    logger.info("hello %s", "世界")
    entry = json.loads(stream.getvalue().strip())
    assert entry["message"] == "hello 世界" and entry["level"] == "INFO"
