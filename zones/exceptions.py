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


class ZoneInUse(ZoneConflict):
    """The zone's shape was approved as the target of alerts not yet sent (issue 19): changing it now would warn
    people nobody approved (or miss people who were), so the change is refused."""

    def __init__(self, zone_id: int, alerts: list[dict]):
        named = ", ".join(
            f"#{a['id']}" + (f" {a['title']!r}" if a.get("title") else "") + f" ({a['status']})" for a in alerts
        )
        super().__init__(
            f"the zone (id {zone_id}) is the approved or submitted target of alert(s) not yet sent: {named}. "
            "They go to the zone's shape as it was when submitted. To change the zone, first reject or cancel "
            "them (and submit them again afterwards), or wait until they are sent; to warn a larger area now, "
            "compose a new alert with a drawn area"
        )
        self.zone_id, self.alerts = zone_id, alerts
