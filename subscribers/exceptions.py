class SubscriberError(ValueError):
    """Base of what can be wrong with a subscriber request."""


class InvalidPhoneNumber(SubscriberError):
    pass


class InvalidLocation(SubscriberError):
    pass


class SubscriberExists(SubscriberError):
    pass
