class SubscriberError(ValueError):
    """Base of what can be wrong with a subscriber request."""


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
    """The hourly cap on verification SMS is reached."""
