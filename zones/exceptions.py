class ZoneError(ValueError):
    """Base of what can be wrong with a zone request."""


class ZoneGeometryInvalid(ZoneError):
    """The geometry is not a valid (multi)polygon on the globe."""


class ZoneNotFound(ZoneError):
    pass
