"""Errors of tinylm calls: one exception class per gRPC status the server
returns, all TinyLMError, each carrying the status code and the server's
message."""
import grpc


class TinyLMError(Exception):
    """A call failed; `code` is the grpc.StatusCode, `details` the server's
    message."""

    def __init__(self, code, details):
        super().__init__("%s: %s" % (code.name, details))
        self.code = code
        self.details = details


class InvalidArgument(TinyLMError):
    """The request was refused as malformed (the message names the field)."""


class NotFound(TinyLMError):
    """No model of that name is loaded."""


class ResourceExhausted(TinyLMError):
    """A limit was hit: queue full, message too large, prompt too long."""


class Unavailable(TinyLMError):
    """The server cannot be reached or is shutting down."""


class Unauthenticated(TinyLMError):
    """The bearer token is missing or wrong."""


class DeadlineExceeded(TinyLMError):
    """The call's timeout passed."""


class Cancelled(TinyLMError):
    """The call was cancelled."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
}


def from_rpc_error(error):
    """The TinyLMError subclass for a grpc.RpcError."""
    code = error.code()
    return _BY_CODE.get(code, TinyLMError)(code, error.details())
