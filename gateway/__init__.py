"""Orchestra's HTTP gateway: FastAPI over one `runtime.Backend`."""

from .app import create_app

__all__ = ["create_app"]
