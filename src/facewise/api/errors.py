"""Rekognition's error names, and the one table that maps facewise's core errors to them.

Each wire error is an ``AwsError`` with the exact name clients match on (boto3's
``error.response["Error"]["Code"]``) and an HTTP status: 4xx when the caller can fix it,
5xx only for facewise's own faults.
"""

from __future__ import annotations

from facewise import errors as core


class AwsError(Exception):
    """An error as the wire shows it: ``{"__type": code, "Message": message}`` + status."""

    code = "InternalServerError"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "Message": self.message}


def _error(code: str, status: int) -> type[AwsError]:
    return type(
        code, (AwsError,), {"code": code, "status": status, "__doc__": f"{code} ({status})"}
    )


# The protocol's own errors: the request never reached an operation.
SerializationException = _error("SerializationException", 400)
ValidationException = _error("ValidationException", 400)
UnknownOperationException = _error("UnknownOperationException", 400)
RequestEntityTooLarge = _error("RequestEntityTooLargeException", 413)
NotFound = _error("NotFoundException", 404)
MethodNotAllowed = _error("MethodNotAllowedException", 405)
# Authentication (SigV4) and authorization.
MissingAuthenticationToken = _error("MissingAuthenticationTokenException", 403)
IncompleteSignature = _error("IncompleteSignatureException", 400)
InvalidSignature = _error("InvalidSignatureException", 403)
UnrecognizedClient = _error("UnrecognizedClientException", 403)
AccessDenied = _error("AccessDeniedException", 403)
# Rekognition's operation errors (botocore's model lists them per operation).
InvalidParameter = _error("InvalidParameterException", 400)
InvalidImageFormat = _error("InvalidImageFormatException", 400)
ImageTooLarge = _error("ImageTooLargeException", 400)
InvalidS3Object = _error("InvalidS3ObjectException", 400)
InvalidPaginationToken = _error("InvalidPaginationTokenException", 400)
ResourceNotFound = _error("ResourceNotFoundException", 400)
ResourceAlreadyExists = _error("ResourceAlreadyExistsException", 400)
ResourceInUse = _error("ResourceInUseException", 400)
Conflict = _error("ConflictException", 400)
IdempotentParameterMismatch = _error("IdempotentParameterMismatchException", 400)
ServiceQuotaExceeded = _error("ServiceQuotaExceededException", 400)
VideoTooLarge = _error("VideoTooLargeException", 400)
LimitExceeded = _error("LimitExceededException", 400)
# Kinesis' names for a bad argument and an old shard iterator.
InvalidArgument = _error("InvalidArgumentException", 400)
ExpiredIterator = _error("ExpiredIteratorException", 400)
# Ours: botocore retries both.
Throttling = _error("ThrottlingException", 503)
InternalServerError = _error("InternalServerError", 500)

CORE_ERRORS: dict[type[core.FacewiseError], type[AwsError]] = {
    core.InvalidParameterError: InvalidParameter,
    core.InvalidImageFormatError: InvalidImageFormat,
    core.ImageTooLargeError: ImageTooLarge,
    core.InvalidS3ObjectError: InvalidS3Object,
    core.InvalidPaginationTokenError: InvalidPaginationToken,
    core.ResourceNotFoundError: ResourceNotFound,
    core.ResourceAlreadyExistsError: ResourceAlreadyExists,
    core.ResourceInUseError: ResourceInUse,
    core.ConflictError: Conflict,
    core.AccessDeniedError: AccessDenied,
    core.IdempotentParameterMismatchError: IdempotentParameterMismatch,
    core.VideoTooLargeError: VideoTooLarge,
    core.VideoError: InvalidParameter,
    core.LimitExceededError: LimitExceeded,
    core.ModelError: InternalServerError,
    core.StoreError: InternalServerError,
}


def from_core(error: core.FacewiseError) -> AwsError:
    """The wire error for a core error (the nearest mapped base class wins)."""
    for kind in type(error).__mro__:
        wire = CORE_ERRORS.get(kind)
        if wire is not None:
            return wire(str(error))
    return InternalServerError(str(error))
