"""Python client of tinylm-server (the tinylm.v1.TinyLM gRPC service)."""
from tinylm.client import Client, Generation
from tinylm.errors import TinyLMError

__all__ = ["Client", "Generation", "TinyLMError"]
