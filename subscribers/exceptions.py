class SubscriberError(ValueError):
    """Base of what can be wrong with a subscriber request. `field` names the part of a request that is wrong
    when it is not the obvious one (e.g. "second": the second place of a sign-up)."""

    field: str | None = None


class InvalidPhoneNumber(SubscriberError):
    pass


class InvalidLocation(SubscriberError):
    pass


class SubscriberExists(SubscriberError):
    pass


class NotAMobileNumber(InvalidPhoneNumber):
    pass


class SubscriberSuppressed(SubscriberError):
    """The number opted out; only its owner can sign it up again (by code or SMS)."""


class SubscriberNotFound(SubscriberError):
    pass


class AddressNotFound(SubscriberError):
    pass


class AddressAmbiguous(SubscriberError):
    def __init__(self, message: str, candidates: list[dict]):
        super().__init__(message)
        self.candidates = candidates


class InvalidCode(SubscriberError):
    """Wrong, expired, used up or never sent: one answer for all, so a guess learns nothing."""


class VerificationUnavailable(SubscriberError):
    """The hourly cap on verification SMS is reached: the message sends the resident to the SMS keyword
    (which the resident's own SMS pays for), named in `details`."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.details = details


class CountryNotAllowed(SubscriberError):
    """The number is of a country the city does not text ([subscribers] allowed_countries)."""


class CodeLimitReached(SubscriberError):
    """This phone, client address or network has had its share of code SMS for now."""

    def __init__(self, message: str, limit: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
        self.details = {"limit": limit, "retry_after": retry_after}


class ReportError(ValueError):
    """Base of what can be wrong with a request about residents' reports (subscribers.reports). Not a
    SubscriberError: the API maps a missing report to 404, a subscriber error to 422."""

    details: dict | None = None


class ReportNotFound(ReportError):
    pass


class InvalidReportChange(ReportError):
    """A status, assignee, note or reply that cannot be taken; `field` (and details.field) names it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field
        self.details = {"field": field}
