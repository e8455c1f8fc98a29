"""The HTTP service: ``create_app(settings)`` builds the FastAPI app; nothing runs at import.

Heavy imports (fastapi, torch) happen inside :func:`create_app`'s module only when it is used.
"""

from bundlewise.serve.settings import ServeSettings


def create_app(settings: ServeSettings | None = None, opener=None):  # type: ignore[no-untyped-def]
    """See :func:`bundlewise.serve.app.create_app`."""
    from bundlewise.serve.app import create_app as _create

    return _create(settings, opener)


__all__ = ["ServeSettings", "create_app"]
