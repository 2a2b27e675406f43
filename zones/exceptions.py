class ZoneError(ValueError):
    """Base of what can be wrong with a zone request."""


class ZoneGeometryInvalid(ZoneError):
    """The geometry is not a valid (multi)polygon on the globe."""


class ZoneGeometryRepairable(ZoneGeometryInvalid):
    """Invalid (e.g. a ring crossing itself), but repairing it on request would give a valid zone."""


class ZoneTooLarge(ZoneGeometryInvalid):
    """More vertices or a larger area than the configured limits allow."""


class ZoneNotFound(ZoneError):
    pass


class ZoneConflict(ZoneError):
    """The name or code is taken by another zone, or the zone is archived."""


class ZoneFileInvalid(ZoneError):
    """An uploaded file is not UTF-8 JSON or not a GeoJSON FeatureCollection."""


class ZoneImportFailed(ZoneError):
    """One feature of an import was refused, so nothing was imported."""

    def __init__(self, number: int, name: object, cause: ZoneError):
        label = f"{name!r}" if isinstance(name, str) and name.strip() else "without a name"
        super().__init__(f"nothing imported; feature {number} ({label}): {cause}")
        self.number, self.name, self.cause = number, name, cause
